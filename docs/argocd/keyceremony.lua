-- Argo CD health of a keyward.io KeyCeremony: by phase. Waiting for people (quorum, witnesses) is Suspended.
local hs = { status = "Progressing", message = "Waiting for the Keyward operator" }
local status = obj.status
if status == nil or status.phase == nil then return hs end
local phase = status.phase
hs.message = phase
if phase == "Completed" then
  hs.status = "Healthy"
elseif phase == "Failed" or phase == "Expired" then
  hs.status = "Degraded"
elseif phase == "AwaitingQuorum" or phase == "AwaitingWitnesses" then
  hs.status = "Suspended"
end
for _, condition in ipairs(status.conditions or {}) do
  if condition.status == "False" and condition.message ~= nil then
    hs.message = phase .. ": " .. condition.message
  end
end
return hs
