-- GET /echo on the bare echo app: the ceiling for GET rows.
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")

local req
function init(args)
   bench.init_thread()
   req = wrk.format("GET", "/echo", bench.headers())
end

function request()
   return req
end
