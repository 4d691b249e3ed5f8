-- POST /v1/refunds of 0.01 against one large payment created before the row (BENCH_PAYMENT_ID; 999,999.99 USD
-- allows 99,999,999 such refunds), a fresh Idempotency-Key on every request.
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")

local body

function init(args)
   bench.init_thread()
   body = '{"payment_id":"' .. assert(os.getenv("BENCH_PAYMENT_ID"), "BENCH_PAYMENT_ID") .. '","amount":0.01}'
end

function request()
   return wrk.format("POST", "/v1/refunds", bench.headers({ ["Idempotency-Key"] = bench.idempotency_key() }), body)
end
