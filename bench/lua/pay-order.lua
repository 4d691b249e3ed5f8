-- POST /v1/orders/{id}/pay with tok_visa and a fresh Idempotency-Key, each request on an order of its own
-- (an order is paid once). The orders come from BENCH_IDS_IN, one id a line; thread n of BENCH_THREADS takes
-- lines n, n + BENCH_THREADS, ... When a thread runs out it stops (run.sh makes enough orders first and
-- reports EXHAUSTED if it did not).
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")

local body = '{"source":"tok_visa"}'
local orders, next_order = {}, 1
exhausted = 0

function init(args)
   bench.init_thread()
   local path = assert(os.getenv("BENCH_IDS_IN"), "BENCH_IDS_IN")
   local line_no = 0
   for line in io.lines(path) do
      line_no = line_no + 1
      if (line_no - 1) % bench.threads_total == (id - 1) and #line > 0 then
         orders[#orders + 1] = line
      end
   end
end

function request()
   local order = orders[next_order]
   if order == nil then
      -- Out of orders: stop this thread; the request below (an already paid order) is not meant to be sent.
      exhausted = exhausted + 1
      wrk.thread:stop()
      order = orders[#orders] or "order_none"
   else
      next_order = next_order + 1
   end
   return wrk.format("POST", "/v1/orders/" .. order .. "/pay",
      bench.headers({ ["Idempotency-Key"] = bench.idempotency_key() }), body)
end
