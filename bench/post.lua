-- wrk: POST /uppercase with the example's body.
wrk.method = "POST"
wrk.body = '{"s":"hello world"}'
wrk.headers["Content-Type"] = "application/json"
