-- bench/create.lua: wrk script for POST /entities, every request with a body
-- of its own (a unique name), so each one creates a new entity.
--
--   wrk -t1 -c10 -d30s --latency -s bench/create.lua http://127.0.0.1:8000/entities [-- TAG]
--
-- TAG (default "wrk") starts every name, so runs against one store stay apart.

local threads = 0
local tag = "wrk"
local thread_id = 0
local counter = 0

-- Runs once per thread, in the main interpreter: number the threads.
function setup(thread)
    threads = threads + 1
    thread:set("thread_id", threads)
end

-- Runs in each thread's interpreter.
function init(args)
    tag = args[1] or tag
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
end

function request()
    counter = counter + 1
    local body = string.format(
        '{"name":"%s-%d-%d","description":"created by wrk, request %d of thread %d"}',
        tag, thread_id, counter, counter, thread_id)
    return wrk.format(nil, nil, nil, body)
end
