-- Mixed traffic, in a fixed repeating pattern of 50 requests: 45 GET /v1/me (90 %),
-- 4 POST /v1/token/refresh (8 %), 1 POST /v1/login (2 %).
local common = dofile("bench/wrk/common.lua")
local queue

common.install(function(thread_index, thread_count)
    local access = common.read_lines("BENCH_ACCESS_TOKENS")
    local all_refresh = common.read_lines("BENCH_REFRESH_TOKENS")
    local bodies = common.read_lines("BENCH_LOGIN_BODIES")
    local mine = {}
    for index = thread_index + 1, #all_refresh, thread_count do
        mine[#mine + 1] = all_refresh[index]
    end
    queue = common.token_queue(mine)
    local count, me_index, login_index = 0, thread_index, thread_index + 1
    return function()
        count = count + 1
        local slot = count % 50
        if slot == 0 then
            local body = bodies[login_index] or '{"code":"ran-out-of-codes"}'
            login_index = login_index + thread_count
            return wrk.format("POST", "/v1/login", { ["Content-Type"] = "application/json" }, body)
        elseif slot % 12 == 0 then
            local token = queue.pop() or "ceiling-has-no-refresh-tokens"
            return wrk.format("POST", "/v1/token/refresh", { ["Content-Type"] = "application/json" },
                '{"refresh_token":"' .. token .. '"}')
        end
        me_index = me_index % #access + 1
        return wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer " .. access[me_index] })
    end
end, function(body)
    local token = body:match('"refresh_token":"([^"]+)"')
    if token then
        queue.push(token)
    end
end)
