-- random user IDs 1..USERS: a user's recommendations through the staff route
local users = tonumber(os.getenv("USERS") or "162000")
local token = os.getenv("TOKEN")
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
request = function()
  return wrk.format("GET", "/api/recommendations/users/" .. math.random(1, users) .. "/?limit=20",
    {["Authorization"] = "Bearer " .. token})
end
