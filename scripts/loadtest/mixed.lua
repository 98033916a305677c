-- mixed.lua: wrk script for movierec's "mixed workload" load test.
--
--   wrk -t2 -c50 -d20s -s scripts/loadtest/mixed.lua http://127.0.0.1:18080
--
-- Normally started by mixed.sh, which prepares the files below. Configuration
-- (environment variables, read once per wrk thread):
--
--   WRITE_SHARE     0..1, share of requests that are rating writes (default 0)
--   TOKENS_FILE     access tokens, one per line (required when WRITE_SHARE > 0)
--   MOVIE_IDS_FILE  movie ids, most popular (most rated) first, one per line
--                   (default: 1..500, which is only a rough stand-in)
--   GENRES_FILE     optional, "id<TAB>name<TAB>movie_count" per line; bounds the
--                   page numbers of genre lists so they never run past the end
--   LIST_COUNT      optional, movies in the catalog (bounds plain list pages)
--   MRC_COUNT       optional, movies with >= 20 ratings (bounds those pages)
--   ZIPF_S          optional, exponent of the popularity skew (default 1.0)
--   SEED            optional, base random seed (default: time); each thread
--                   adds its own number, so threads never share a sequence
--
-- Request mix. A request is a rating write with probability WRITE_SHARE;
-- otherwise a read, chosen as:
--
--   40% list     /api/movies/?page=P&ordering=O, P in 1..20 skewed to the
--                first pages (weight 1/P), O one of -popularity_score (40%),
--                -average_rating, title, release_date (20% each); 20% of
--                them add genre=<name> (pages bounded by the genre's size),
--                15% add min_rating_count=20 (pages bounded by MRC_COUNT)
--   30% detail   /api/movies/{id}/, id picked Zipf-like over MOVIE_IDS_FILE
--                (rank r has weight 1/r^ZIPF_S)
--   10% popular  /api/movies/popular/ (every 4th with ?limit=20)
--   10% genre    half /api/movies/genres/{id}/movies/?page=N, half
--                /api/movies/?genre=<name>&page=N; genres weighted by size,
--                N within the genre's pages, skewed to the first
--    5% ranked   /api/movies/top-rated/ or /api/movies/trending/
--                (trending: week, or sometimes month/day)
--    5% search   /api/movies/?search=<word> from a fixed list of title words
--
-- Reads send "Accept-Encoding: gzip", as browsers do. A write is
-- POST /api/ratings/movies/{id}/rate/ {"score": 0.5..5.0} with
-- "Authorization: Bearer <random token>", the movie picked with the same skew.
--
-- Every request carries "X-Request-ID: lt.<kind>.<thread>.<n>"; movierec echoes
-- it, which is how response() attributes each status to its kind (wrk does
-- not say which request a response answers). Kinds whose responses do not
-- carry it are counted as "unknown".
--
-- response() also reads movierec's "Server-Timing: ..., cache;desc="hit-local"|
-- "hit-redis"|"miss"" on 2xx reads, to report the answer cache's hit ratio.
--
-- done() prints the sent and answered requests per kind, every non-2xx
-- response by kind and status (3xx included), the cache hit ratio (and, per
-- kind, the share of answers that missed and that were hits revalidated
-- after a list-version move, "hit-revalidated"), wrk's
-- socket errors, and one machine-readable line for mixed.sh:
--
--   LT_RESULT rps=.. p50_ms=.. p90_ms=.. p99_ms=.. requests=.. bad=.. sock=.. ...
--
-- Any bad (non-2xx) response or socket error invalidates the run.

local KINDS = { "list", "detail", "popular", "genre", "ranked", "search", "write" }

-- State shared by setup() and done() (they run in wrk's main Lua state).
local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  threads[#threads + 1] = thread
end

-- ---------------------------------------------------------------------------
-- Per-thread state (each wrk thread has its own Lua state).

lt_sent = {}   -- kind -> requests generated
lt_ok = {}     -- kind -> 2xx responses
lt_bad = {}    -- "kind status" -> non-2xx responses
lt_cache = { hit = 0, miss = 0 } -- 2xx reads by Server-Timing cache;desc="hit-*"/"miss"

local write_share = 0
local tokens = {}
local movies = {}
local movie_cdf, movie_total
local page_cdf, page_total
local genres = {} -- { id=, name=, pages= }
local genre_cdf, genre_total
local list_pages = 20
local mrc_pages = 5
local seq = 0
local host_header
local read_headers = {}
local write_headers = {}

local ORDERINGS = {
  "-popularity_score", "-popularity_score",
  "-average_rating", "title", "release_date",
}

local SEARCH_WORDS = {
  "star", "love", "man", "war", "night", "day", "life", "story", "king",
  "dead", "girl", "city", "time", "world", "christmas", "american", "house",
  "black", "last", "blue", "comedy", "dark", "lord", "space", "big",
}

-- Genres of ml-latest-small, used when GENRES_FILE is not given (queried by
-- name only, with few pages, so they cannot run past the end).
local FALLBACK_GENRES = {
  "Drama", "Comedy", "Thriller", "Action", "Romance", "Adventure", "Crime",
  "Sci-Fi", "Horror", "Fantasy",
}

local function read_lines(path)
  local out = {}
  if not path or path == "" then
    return out
  end
  local f, err = io.open(path, "r")
  if not f then
    io.stderr:write("mixed.lua: cannot open " .. path .. ": " .. tostring(err) .. "\n")
    os.exit(2)
  end
  for line in f:lines() do
    line = line:gsub("%s+$", "")
    if line ~= "" then
      out[#out + 1] = line
    end
  end
  f:close()
  return out
end

-- cdf builds the cumulative weights 1/rank^s for ranks 1..n.
local function cdf(n, s)
  local c, total = {}, 0
  for i = 1, n do
    total = total + 1 / (i ^ s)
    c[i] = total
  end
  return c, total
end

-- pick returns a rank in 1..#c drawn from the cumulative weights c.
local function pick(c, total, limit)
  local n = limit or #c
  local r = math.random() * (limit and c[n] or total)
  local lo, hi = 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if c[mid] < r then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(ch)
    return string.format("%%%02X", string.byte(ch))
  end))
end

local function pages_of(count)
  local p = math.ceil(count / 20)
  if p < 1 then p = 1 end
  if p > 20 then p = 20 end
  return p
end

function init(args)
  local seed = tonumber(os.getenv("SEED") or "") or (os.time() + math.floor(os.clock() * 1e6))
  math.randomseed(seed * 7919 + (tid or 0) * 104729)
  for _ = 1, 10 do math.random() end

  write_share = tonumber(os.getenv("WRITE_SHARE") or "0") or 0
  if write_share < 0 or write_share > 1 then
    io.stderr:write("mixed.lua: WRITE_SHARE must be within 0..1\n")
    os.exit(2)
  end
  if write_share > 0 then
    tokens = read_lines(os.getenv("TOKENS_FILE"))
    if #tokens == 0 then
      io.stderr:write("mixed.lua: WRITE_SHARE > 0 needs TOKENS_FILE with at least one token\n")
      os.exit(2)
    end
  end

  for _, line in ipairs(read_lines(os.getenv("MOVIE_IDS_FILE"))) do
    local id = tonumber(line)
    if id then movies[#movies + 1] = id end
  end
  if #movies == 0 then
    for i = 1, 500 do movies[i] = i end
  end
  local s = tonumber(os.getenv("ZIPF_S") or "") or 1.0
  movie_cdf, movie_total = cdf(#movies, s)
  page_cdf, page_total = cdf(20, 1.0)

  list_pages = pages_of(tonumber(os.getenv("LIST_COUNT") or "") or 400)
  mrc_pages = pages_of(tonumber(os.getenv("MRC_COUNT") or "") or 100)

  for _, line in ipairs(read_lines(os.getenv("GENRES_FILE"))) do
    local id, name, count = line:match("^(%d+)\t([^\t]+)\t(%d+)$")
    if id and tonumber(count) > 0 then
      genres[#genres + 1] = { id = id, name = urlencode(name), pages = pages_of(tonumber(count)), weight = tonumber(count) }
    end
  end
  if #genres == 0 then
    for i, name in ipairs(FALLBACK_GENRES) do
      genres[i] = { id = nil, name = urlencode(name), pages = 5, weight = 1 }
    end
  end
  genre_cdf, genre_total = {}, 0
  for i, g in ipairs(genres) do
    genre_total = genre_total + g.weight
    genre_cdf[i] = genre_total
  end

  for _, k in ipairs(KINDS) do
    lt_sent[k] = 0
    lt_ok[k] = 0
  end
  lt_ok.unknown = 0
  host_header = wrk.headers["Host"] or wrk.host
end

local function movie()
  return movies[pick(movie_cdf, movie_total)]
end

local function page(max)
  return pick(page_cdf, page_total, max)
end

local function genre()
  return genres[pick(genre_cdf, genre_total)]
end

local function list_path()
  local ordering = ORDERINGS[math.random(#ORDERINGS)]
  local r = math.random()
  if r < 0.20 then
    local g = genre()
    return "/api/movies/?genre=" .. g.name .. "&ordering=" .. ordering .. "&page=" .. page(g.pages)
  elseif r < 0.35 then
    return "/api/movies/?min_rating_count=20&ordering=" .. ordering .. "&page=" .. page(mrc_pages)
  end
  return "/api/movies/?ordering=" .. ordering .. "&page=" .. page(list_pages)
end

local function genre_path()
  local g = genre()
  local p = page(g.pages)
  if g.id and math.random() < 0.5 then
    return "/api/movies/genres/" .. g.id .. "/movies/?page=" .. p
  end
  return "/api/movies/?genre=" .. g.name .. "&page=" .. p
end

local function ranked_path()
  if math.random() < 0.5 then
    return "/api/movies/top-rated/"
  end
  local r = math.random()
  if r < 0.7 then
    return "/api/movies/trending/"
  elseif r < 0.9 then
    return "/api/movies/trending/?period=month"
  end
  return "/api/movies/trending/?period=day"
end

local function read_request()
  local r = math.random()
  local kind, path
  if r < 0.40 then
    kind, path = "list", list_path()
  elseif r < 0.70 then
    kind, path = "detail", "/api/movies/" .. movie() .. "/"
  elseif r < 0.80 then
    kind = "popular"
    path = (math.random(4) == 1) and "/api/movies/popular/?limit=20" or "/api/movies/popular/"
  elseif r < 0.90 then
    kind, path = "genre", genre_path()
  elseif r < 0.95 then
    kind, path = "ranked", ranked_path()
  else
    kind, path = "search", "/api/movies/?search=" .. SEARCH_WORDS[math.random(#SEARCH_WORDS)]
  end
  return kind, path
end

function request()
  seq = seq + 1
  if write_share > 0 and math.random() < write_share then
    lt_sent.write = lt_sent.write + 1
    local h = write_headers
    h["Host"] = host_header
    h["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]
    h["Content-Type"] = "application/json"
    h["X-Request-ID"] = "lt.write." .. tid .. "." .. seq
    local body = string.format('{"score": %.1f}', math.random(10) / 2)
    return wrk.format("POST", "/api/ratings/movies/" .. movie() .. "/rate/", h, body)
  end
  local kind, path = read_request()
  lt_sent[kind] = lt_sent[kind] + 1
  local h = read_headers
  h["Host"] = host_header
  h["Accept-Encoding"] = "gzip"
  h["X-Request-ID"] = "lt." .. kind .. "." .. tid .. "." .. seq
  return wrk.format("GET", path, h, nil)
end

function response(status, headers, body)
  local rid = headers["X-Request-Id"] or headers["X-Request-ID"] or headers["x-request-id"]
  local kind = rid and rid:match("^lt%.(%a+)%.") or "unknown"
  if status >= 200 and status < 300 then
    lt_ok[kind] = (lt_ok[kind] or 0) + 1
    if kind ~= "write" then
      local st = headers["Server-Timing"] or headers["server-timing"]
      if st then
        if st:find('cache;desc="hit', 1, true) then -- hit-local, hit-redis, hit-revalidated
          lt_cache.hit = lt_cache.hit + 1
          if st:find('cache;desc="hit-revalidated"', 1, true) then
            lt_cache["reval " .. kind] = (lt_cache["reval " .. kind] or 0) + 1
          end
        elseif st:find('cache;desc="miss"', 1, true) then
          lt_cache.miss = lt_cache.miss + 1
          lt_cache["miss " .. kind] = (lt_cache["miss " .. kind] or 0) + 1
        end
      end
    end
  else
    local key = kind .. " " .. status
    lt_bad[key] = (lt_bad[key] or 0) + 1
  end
end

-- ---------------------------------------------------------------------------
-- Report (main Lua state).

function done(summary, latency, requests)
  local sent, ok, bad = {}, {}, {}
  local hits, misses = 0, 0
  local bykind = {} -- "miss <kind>" / "reval <kind>" -> count
  for _, t in ipairs(threads) do
    local c = t:get("lt_cache") or {}
    hits, misses = hits + (c.hit or 0), misses + (c.miss or 0)
    for k, v in pairs(c) do
      if k ~= "hit" and k ~= "miss" then bykind[k] = (bykind[k] or 0) + v end
    end
    for k, v in pairs(t:get("lt_sent") or {}) do sent[k] = (sent[k] or 0) + v end
    for k, v in pairs(t:get("lt_ok") or {}) do ok[k] = (ok[k] or 0) + v end
    for k, v in pairs(t:get("lt_bad") or {}) do bad[k] = (bad[k] or 0) + v end
  end
  local secs = summary.duration / 1e6
  local rps = summary.requests / secs
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  local nbad = 0
  for _, v in pairs(bad) do nbad = nbad + v end
  local okw, okall = ok.write or 0, 0
  for _, v in pairs(ok) do okall = okall + v end

  local share = tonumber(os.getenv("WRITE_SHARE") or "0") or 0
  io.write("------ mixed.lua ------\n")
  io.write(string.format("write share %.3f: %d requests in %.2fs, %.1f req/s, %.2f MB read\n",
    share, summary.requests, secs, rps, summary.bytes / 1e6))
  io.write(string.format("latency p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n",
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3))
  local parts = {}
  for _, k in ipairs(KINDS) do
    parts[#parts + 1] = string.format("%s %d/%d", k, ok[k] or 0, sent[k] or 0)
  end
  io.write("2xx/sent by kind: " .. table.concat(parts, ", ") .. "\n")
  if (ok.unknown or 0) > 0 then
    io.write(string.format("2xx without an lt.* X-Request-ID (kind unknown): %d\n", ok.unknown))
  end
  io.write(string.format("writes answered 2xx: %d of %d 2xx responses (%.2f%%)\n",
    okw, okall, okall > 0 and 100 * okw / okall or 0))
  if hits + misses > 0 then
    io.write(string.format("answer cache (Server-Timing) on 2xx reads: %d hits, %d misses (%.1f%% hits)\n",
      hits, misses, 100 * hits / (hits + misses)))
    local mparts = {}
    for _, k in ipairs(KINDS) do
      if k ~= "write" and (ok[k] or 0) > 0 then
        mparts[#mparts + 1] = string.format("%s %.1f%%/%.1f%%", k,
          100 * (bykind["miss " .. k] or 0) / ok[k], 100 * (bykind["reval " .. k] or 0) / ok[k])
      end
    end
    io.write("misses/revalidated hits by kind: " .. table.concat(mparts, ", ") .. "\n")
  else
    io.write("answer cache: no Server-Timing cache;desc in the responses\n")
  end
  local keys = {}
  for k in pairs(bad) do keys[#keys + 1] = k end
  table.sort(keys)
  if #keys == 0 then
    io.write("non-2xx responses: none\n")
  else
    io.write(string.format("NON-2XX RESPONSES: %d (the run is invalid)\n", nbad))
    for _, k in ipairs(keys) do
      io.write(string.format("  %-14s %d\n", k, bad[k]))
    end
  end
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d%s\n",
    e.connect, e.read, e.write, e.timeout, sock > 0 and " (the run is invalid)" or ""))
  io.write(string.format(
    "LT_RESULT rps=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d secs=%.3f bad=%d sock=%d writes_ok=%d ok=%d cache_hits=%d cache_misses=%d\n",
    rps, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, summary.requests, secs, nbad, sock, okw, okall, hits, misses))
  for _, k in ipairs(keys) do
    local kind, status = k:match("^(%S+) (%d+)$")
    io.write(string.format("LT_BAD kind=%s status=%s count=%d\n", kind, status, bad[k]))
  end
end
