-- wrk script: every request joins the event with a user ID never used
-- before (thread number + counter), so each one makes a new ticket.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
end

function request()
  counter = counter + 1
  local body = '{"user_id":"load-' .. thread_id .. '-' .. counter .. '"}'
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json"}, body)
end
