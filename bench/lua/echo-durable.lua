-- POST /echo/durable on the echo app: the body and a fresh Idempotency-Key group-committed to SQLite (DurableEcho),
-- with the same body and headers as the POST /v1/payments row: the floor under the write rows.
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")

local body = '{"amount":10.00,"currency":"USD","source":"tok_visa"}'

function init(args)
   bench.init_thread()
end

function request()
   return wrk.format("POST", "/echo/durable", bench.headers({ ["Idempotency-Key"] = bench.idempotency_key() }), body)
end
