-- POST /echo on the bare echo app, with the same body and headers as the POST /v1/payments row (an
-- Authorization header and a fresh Idempotency-Key, both ignored): the ceiling for POST rows. With
-- BENCH_ECHO_PATH=/echo/durable, the durable echo (the body and the key group-committed to SQLite): the floor under
-- the write rows.
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")

local path = os.getenv("BENCH_ECHO_PATH") or "/echo"
local body = '{"amount":10.00,"currency":"USD","source":"tok_visa"}'

function init(args)
   bench.init_thread()
end

function request()
   return wrk.format("POST", path, bench.headers({ ["Idempotency-Key"] = bench.idempotency_key() }), body)
end
