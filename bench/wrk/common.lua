-- Shared by the wrk scripts of bench/run-http.sh: a fixed request count per run, exact
-- timing, distinct tokens/codes per request, and one JSON result line.
--
-- Environment (set by bench/run-http.sh):
--   BENCH_REQUESTS  total responses to collect (split evenly over wrk's threads)
--   BENCH_THREADS   wrk's -t
--   BENCH_DONE_DIR  each thread writes a file here when its share is done; the runner then
--                   stops wrk with SIGINT (wrk itself only knows durations)
--   BENCH_ACCESS_TOKENS, BENCH_REFRESH_TOKENS, BENCH_LOGIN_BODIES  input files, one per line
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]

local M = {}
local timespec = ffi.new("bench_timespec")

-- CLOCK_MONOTONIC, microseconds.
function M.now_us()
    ffi.C.clock_gettime(1, timespec)
    return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

function M.read_lines(variable)
    local path = os.getenv(variable)
    local lines = {}
    if path == nil or path == "" then
        return lines
    end
    for line in io.lines(path) do
        if #line > 0 then
            lines[#lines + 1] = line
        end
    end
    return lines
end

-- A FIFO of refresh tokens: each refresh spends the oldest and the answer's new token goes
-- to the back, so every request presents an unspent token (rotation is never tripped).
function M.token_queue(tokens)
    local queue = { items = {}, head = 1, tail = 0 }
    function queue.push(token)
        queue.tail = queue.tail + 1
        queue.items[queue.tail] = token
    end
    function queue.pop()
        if queue.head > queue.tail then
            return nil
        end
        local token = queue.items[queue.head]
        queue.items[queue.head] = nil
        queue.head = queue.head + 1
        return token
    end
    for _, token in ipairs(tokens) do
        queue.push(token)
    end
    return queue
end

-- This thread's share of the seeded refresh tokens (BENCH_REFRESH_TOKENS) in rotation:
-- `request()` presents the oldest unspent one, `on_body(body)` keeps the answer's new one.
function M.refresh_rotation(thread_index, thread_count)
    local all = M.read_lines("BENCH_REFRESH_TOKENS")
    local mine = {}
    for index = thread_index + 1, #all, thread_count do
        mine[#mine + 1] = all[index]
    end
    local queue = M.token_queue(mine)
    local rotation = {}
    function rotation.request()
        -- An empty queue only happens against the ceiling, which hands back no tokens.
        local token = queue.pop() or "ceiling-has-no-refresh-tokens"
        return wrk.format("POST", "/v1/token/refresh", { ["Content-Type"] = "application/json" },
            '{"refresh_token":"' .. token .. '"}')
    end
    function rotation.on_body(body)
        local token = body:match('"refresh_token":"([^"]+)"')
        if token then
            queue.push(token)
        end
    end
    return rotation
end

local threads = {}

-- Installs setup/init/response/done. `make_request(thread_index, thread_count)` returns a
-- function building the next request; `on_body(body)` sees every answer body.
function M.install(make_request, on_body)
    function setup(thread)
        thread:set("thread_index", #threads)
        threads[#threads + 1] = thread
    end

    local quota, received, bad, first_us, last_us, next_request
    function init(args)
        local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
        quota = math.floor(tonumber(os.getenv("BENCH_REQUESTS")) / thread_count)
        received, bad = 0, 0
        next_request = make_request(thread_index, thread_count)
    end

    function request()
        if first_us == nil then
            first_us = M.now_us()
            _G.first_us = first_us
        end
        return next_request()
    end

    function response(status, headers, body)
        received = received + 1
        if status < 200 or status > 299 then
            bad = bad + 1
        end
        if on_body ~= nil then
            on_body(body)
        end
        if received == quota then
            last_us = M.now_us()
            _G.last_us, _G.received, _G.bad = last_us, received, bad
            local marker = io.open(os.getenv("BENCH_DONE_DIR") .. "/thread-" .. thread_index, "w")
            marker:write("done\n")
            marker:close()
            wrk.thread:stop()
        end
    end

    function done(summary, latency, requests)
        local first, last, total, failures = math.huge, 0, 0, 0
        for _, thread in ipairs(threads) do
            first = math.min(first, thread:get("first_us") or math.huge)
            last = math.max(last, thread:get("last_us") or 0)
            total = total + (thread:get("received") or 0)
            failures = failures + (thread:get("bad") or 0)
        end
        local seconds = (last - first) / 1e6
        local errors = summary.errors
        io.write(string.format(
            'BENCH_RESULT {"requests":%d,"non_2xx":%d,"socket_errors":%d,"seconds":%.4f,' ..
            '"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"max_ms":%.3f}\n',
            total, failures, errors.connect + errors.read + errors.write + errors.timeout, seconds,
            seconds > 0 and total / seconds or 0,
            latency:percentile(50) / 1000, latency:percentile(99) / 1000,
            latency:percentile(99.9) / 1000, latency.max / 1000))
    end
end

return M
