package catalog

import "runtime"

var runtimeProcs = runtime.GOMAXPROCS(0)
