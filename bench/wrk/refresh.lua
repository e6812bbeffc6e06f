-- POST /v1/token/refresh, each request presenting an unspent refresh token: the seeded
-- tokens, then those the answers hand back (rotation).
local common = dofile("bench/wrk/common.lua")
local queue

common.install(function(thread_index, thread_count)
    local all = common.read_lines("BENCH_REFRESH_TOKENS")
    local mine = {}
    for index = thread_index + 1, #all, thread_count do
        mine[#mine + 1] = all[index]
    end
    queue = common.token_queue(mine)
    return function()
        -- An empty queue only happens against the ceiling, which hands back no tokens.
        local token = queue.pop() or "ceiling-has-no-refresh-tokens"
        return wrk.format("POST", "/v1/token/refresh", { ["Content-Type"] = "application/json" },
            '{"refresh_token":"' .. token .. '"}')
    end
end, function(body)
    local token = body:match('"refresh_token":"([^"]+)"')
    if token then
        queue.push(token)
    end
end)
