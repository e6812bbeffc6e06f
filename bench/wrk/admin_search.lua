-- GET /admin/v1/users?q=<openid>: the admin search by openid, each request for another
-- seeded user (openids o-bench-000000000000 … of bench/seed), with an admin key.
local common = dofile("bench/wrk/common.lua")
local key = os.getenv("BENCH_ADMIN_KEY")
local users = tonumber(os.getenv("BENCH_USERS"))

common.install(function(thread_index, thread_count)
    local index = thread_index * 7919
    return function()
        index = (index + 104729) % users
        local path = string.format("/admin/v1/users?q=o-bench-%012d", index)
        return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. key })
    end
end)
