-- GET /v1/me, each request with the next access token of the list (many users).
local common = dofile("bench/wrk/common.lua")
local tokens = common.read_lines("BENCH_ACCESS_TOKENS")

common.install(function(thread_index, thread_count)
    local index = thread_index
    return function()
        index = index % #tokens + 1
        return wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer " .. tokens[index] })
    end
end)
