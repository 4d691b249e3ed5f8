-- GET /v1/payments/{id} of one payment created before the row (BENCH_PAYMENT_ID).
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")

local req
function init(args)
   bench.init_thread()
   req = wrk.format("GET", "/v1/payments/" .. assert(os.getenv("BENCH_PAYMENT_ID"), "BENCH_PAYMENT_ID"), bench.headers())
end

function request()
   return req
end
