-- POST /v1/token/refresh, each request presenting an unspent refresh token: the seeded
-- tokens, then those the answers hand back (rotation).
local common = dofile("bench/wrk/common.lua")
local rotation

common.install(function(thread_index, thread_count)
    rotation = common.refresh_rotation(thread_index, thread_count)
    return rotation.request
end, function(body)
    rotation.on_body(body)
end)
