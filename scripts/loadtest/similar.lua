-- random movie IDs 1..MOVIES: similar movies
local movies = tonumber(os.getenv("MOVIES") or "62000")
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
request = function()
  return wrk.format("GET", "/api/recommendations/movies/" .. math.random(1, movies) .. "/similar/?limit=10")
end
