-- simple.lua: wrk report for a static request (used by the bare comparison,
-- MODE=bare of mixed.sh). It only adds done(), so wrk keeps sending one
-- prebuilt request and does not hand responses to Lua: the load generator
-- costs the same against movierec and the bare server.
--
-- wrk counts responses with status > 399 as "status" errors; they, and socket
-- errors, invalidate the run.

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    "LT_RESULT rps=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d secs=%.3f bad=%d sock=%d\n",
    summary.requests / secs, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, summary.requests, secs, e.status, sock))
end
