-- POST /v1/login, each request with a fresh code of a distinct user from the simulator.
local common = dofile("bench/wrk/common.lua")

common.install(function(thread_index, thread_count)
    local bodies = common.read_lines("BENCH_LOGIN_BODIES")
    local index = thread_index + 1
    return function()
        local body = bodies[index] or '{"code":"ran-out-of-codes"}'
        index = index + thread_count
        return wrk.format("POST", "/v1/login", { ["Content-Type"] = "application/json" }, body)
    end
end)
