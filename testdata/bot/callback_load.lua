-- Load for the official account's callback through a real server, with wrk on loopback:
--
--   HUZHU_HTTP_ADDR=127.0.0.1:18080 HUZHU_REDIS_ADDR=127.0.0.1:6379 HUZHU_NOTIFY_ENABLED=false \
--   HUZHU_WECHAT_OA_APP_ID=wx0000000000000000 HUZHU_WECHAT_OA_APP_SECRET=secretsecretsecretsecretsecret12 \
--   HUZHU_WECHAT_OA_TOKEN=loadtesttoken huzhu serve --demo &
--   wrk -t2 -c8 -d10s -s testdata/bot/callback_load.lua \
--     'http://127.0.0.1:18080/wechat/callback?signature=0f245b5248abc3ba497f25eaf70db71be392ce70&timestamp=1763900000&nonce=123456&openid=o_load'
--
-- The signature is sha1 of the sorted token, timestamp and nonce above.
-- Plain-mode callback: the signature covers token, timestamp and nonce, not the body, so each
-- request carries a new MsgId (no retry de-duplication hit) with a fixed signature.
local token = "loadtesttoken"
local ts, nonce = "1763900000", "123456"
local qs = {"二次报销是什么", "农民工能报吗", "一年最多报多少", "困难职工能多报吗", "京卡丢了怎么办", "钱多久能到账", "今天天气怎么样", "门诊能报吗"}
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml"
request = function()
  counter = counter + 1
  local q = qs[(counter % #qs) + 1]
  local body = string.format("<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[o_load_%d]]></FromUserName><CreateTime>%s</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d%06d</MsgId></xml>", counter % 500, ts, q, math.random(1, 999999), counter)
  return wrk.format(nil, wrk.path, nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("requests/s %.0f, p50 %.2f ms, p99 %.2f ms, errors %d, non-2xx %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
