local funcs = require("funcs")

local function main(n)
  local sum, err = funcs.call("app:add", n, 1)
  if err then return nil, err end
  return { answer = sum, me = process.pid() }
end

return { main = main }
