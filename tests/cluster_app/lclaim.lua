-- Race for a name with the CONSISTENT scope: "won" (then hold it until told), or the
-- error's kind.
local function main(name)
  local ok, err = process.registry.register(name, nil, process.registry.CONSISTENT)
  if not ok then return tostring(err:kind()) end
  process.inbox():receive()
  return "won"
end
return { main = main }
