-- Argo CD health of a keyward.io KeyBackend: its Ready condition (an offline root is Suspended, not Degraded).
local hs = { status = "Progressing", message = "Waiting for the Keyward operator to connect" }
local status = obj.status
if status == nil then return hs end
if status.observedGeneration ~= nil and obj.metadata.generation ~= nil
    and status.observedGeneration < obj.metadata.generation then
  return hs
end
for _, condition in ipairs(status.conditions or {}) do
  if condition.type == "Ready" then
    hs.message = (condition.reason or "") .. ": " .. (condition.message or "")
    if condition.status == "True" then
      hs.status = "Healthy"
    elseif condition.reason == "Offline" then
      hs.status = "Suspended"
    else
      hs.status = "Degraded"
    end
    return hs
  end
end
return hs
