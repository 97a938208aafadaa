/* SPDX-License-Identifier: Apache-2.0 */
/*
 * For the snapshotter's tests: the daemon has no library users, so its tests (fuzz targets of
 * the metadata file and of the requests, unit tests) reach its parts through this header.
 */
#pragma once

#include "filter.h"
#include "grpc.h"
#include "layout.h"
#include "lazy.h"
#include "service.h"
#include "store.h"
