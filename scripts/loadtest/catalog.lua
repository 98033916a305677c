-- catalog reads: movie details (random), list pages, popular and genre lists
local movies = tonumber(os.getenv("MOVIES") or "62000")
local genres = {"Action", "Comedy", "Drama", "Thriller", "Romance", "Horror"}
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
request = function()
  local r = math.random(1, 10)
  local path
  if r <= 5 then
    path = "/api/movies/" .. math.random(1, movies) .. "/"
  elseif r <= 8 then
    path = "/api/movies/?page=" .. math.random(1, 50) .. "&ordering=-average_rating"
  elseif r == 9 then
    path = "/api/movies/popular/"
  else
    path = "/api/movies/?genre=" .. genres[math.random(1, #genres)]
  end
  return wrk.format("GET", path)
end
