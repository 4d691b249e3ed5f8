-- POST /v1/orders (one item, 10.00 USD), a fresh Idempotency-Key on every request.
-- With BENCH_IDS_OUT set, the id of every created order is appended to BENCH_IDS_OUT.<thread>, one a line:
-- the orders that the pay row then pays.
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/common.lua")

local body = '{"currency":"USD","items":[{"name":"Bench item","amount":10.00,"quantity":1}]}'
local out

function init(args)
   bench.init_thread()
   local path = os.getenv("BENCH_IDS_OUT")
   if path then
      out = assert(io.open(path .. "." .. id, "a"))
      out:setvbuf("line")
   end
end

function request()
   return wrk.format("POST", "/v1/orders", bench.headers({ ["Idempotency-Key"] = bench.idempotency_key() }), body)
end

function response(status, headers, body)
   bench.count(status)
   if out and status == 201 then
      local order = string.match(body, '^{"id":"(order_[^"]+)"')
      if order then
         out:write(order, "\n")
      end
   end
end
