-- Mixed traffic, in a fixed repeating pattern of 50 requests: 45 GET /v1/me (90 %),
-- 4 POST /v1/token/refresh (8 %), 1 POST /v1/login (2 %).
local common = dofile("bench/wrk/common.lua")
local rotation

common.install(function(thread_index, thread_count)
    local access = common.read_lines("BENCH_ACCESS_TOKENS")
    local bodies = common.read_lines("BENCH_LOGIN_BODIES")
    rotation = common.refresh_rotation(thread_index, thread_count)
    local count, me_index, login_index = 0, thread_index, thread_index + 1
    return function()
        count = count + 1
        local slot = count % 50
        if slot == 0 then
            local body = bodies[login_index] or '{"code":"ran-out-of-codes"}'
            login_index = login_index + thread_count
            return wrk.format("POST", "/v1/login", { ["Content-Type"] = "application/json" }, body)
        elseif slot % 12 == 0 then
            return rotation.request()
        end
        me_index = me_index % #access + 1
        return wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer " .. access[me_index] })
    end
end, function(body)
    rotation.on_body(body)
end)
