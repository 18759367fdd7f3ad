-- wrk script: POST a realistic initialize body with a unique Idempotency-Key per request, so the target does
-- its idempotency work. Usage: wrk -s bench/initialize.lua URL -- <secret key>
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local key = ""
local counter = 0
local run = 0
function init(args)
  key = args[1] or ""
  run = os.time()
end

local body = '{"amount":5000,"currency":"XOF","description":"Order #123",'
  .. '"customer":{"email":"awa@example.com","first_name":"Awa","last_name":"Dossou"},'
  .. '"return_url":"https://shop.example/return?order=123","metadata":{"order_id":"123"}}'

function request()
  counter = counter + 1
  local headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. run .. "-" .. tid .. "-" .. counter,
  }
  return wrk.format("POST", "/v1/payments/initialize", headers, body)
end
