-- POST /v1/payments of 10.00 USD with tok_visa, a fresh Idempotency-Key on every request.
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")

local body = '{"amount":10.00,"currency":"USD","source":"tok_visa"}'

function init(args)
   bench.init_thread()
end

function request()
   return wrk.format("POST", "/v1/payments", bench.headers({ ["Idempotency-Key"] = bench.idempotency_key() }), body)
end
