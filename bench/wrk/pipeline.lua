-- 16 pipelined requests per write: wrk sends the whole batch at once and counts each response
-- (latency is recorded per batch, from its write to its last response).
local depth = 16

init = function(args)
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format(nil, "/")
   end
   req = table.concat(r)
end

request = function()
   return req
end

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
