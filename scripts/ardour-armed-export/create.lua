-- usage: ardour7-lua create.lua <dir> <name> [plugin name]: a 48 kHz session with one MIDI track playing the plugin
local dir, name = arg[1], arg[2]
local want = arg[3] or "LatentPlay"
local s = create_session(dir, name, 48000)
assert(s, "no session")
local pi = nil
for p in ARDOUR.LuaAPI.list_plugins():iter() do
  if p.name == want then pi = p end
end
assert(pi, want .. " not found")
local tl = Session:new_midi_track(ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1), ARDOUR.ChanCount(ARDOUR.DataType("audio"), 2),
  true, pi, nil, nil, 1, "Kick", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true, false)
for t in tl:iter() do
  print("track", t:name(), t:to_stateful():id():to_s())
  local i = 0
  while true do
    local p = t:nth_processor(i)
    if p:isnil() then break end
    print("  proc", i, p:display_name())
    i = i + 1
  end
end
sleep(2)
Session:save_state("", false, false, false, false, false)
close_session()
print("saved")
