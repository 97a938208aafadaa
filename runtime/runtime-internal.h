/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's internal interfaces, for its own unit tests. */
#pragma once

#include "runtime/caps.h"
#include "runtime/seccomp-filter.h"
