"""Copy the base session (made by create.lua) to <dest>, add a MIDI region with notes at given
sample positions (120 bpm, 48 kHz: 24000 samples per beat), a session range, and optionally arm."""
import os, re, shutil, struct, sys

SC = 282240000 // 48000  # superclocks per sample
PPQN = 1920

def vlq(n):
    out = [n & 0x7f]; n >>= 7
    while n: out.insert(0, (n & 0x7f) | 0x80); n >>= 7
    return bytes(out)

def smf(notes_ticks, length_ticks=480, key=60):
    events = []
    for t in notes_ticks:
        events.append((t, bytes([0x90, key, 100])))
        events.append((t + length_ticks, bytes([0x80, key, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
    trk = b""; last = 0
    for t, e in events:
        trk += vlq(t - last) + e; last = t
    trk += vlq(0) + b"\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, PPQN) + b"MTrk" + struct.pack(">I", len(trk)) + trk

def main(base_dir, dest_dir, name, armed, note_samples, end_samples):
    if os.path.exists(dest_dir): shutil.rmtree(dest_dir)
    shutil.copytree(base_dir, dest_dir)
    os.rename(os.path.join(dest_dir, "base.ardour"), os.path.join(dest_dir, name + ".ardour"))
    for f in ("base.ardour.bak", "base.pending", "base.history"):
        p = os.path.join(dest_dir, f)
        if os.path.exists(p): os.remove(p)
    (old,) = os.listdir(os.path.join(dest_dir, "interchange"))
    os.rename(os.path.join(dest_dir, "interchange", old), os.path.join(dest_dir, "interchange", name))
    ticks = [s * PPQN // 24000 for s in note_samples]
    assert all(t * 24000 == s * PPQN for t, s in zip(ticks, note_samples)), "note not on a tick"
    with open(os.path.join(dest_dir, "interchange", name, "midifiles", "Kick-1.mid"), "wb") as f:
        f.write(smf(ticks))
    path = os.path.join(dest_dir, name + ".ardour")
    x = open(path).read()
    x = x.replace('name="base"', 'name="%s"' % name, 1)
    x = x.replace('session-range-is-free="1"', 'session-range-is-free="0"')
    len_ticks = end_samples * PPQN // 24000
    region = ('<Region name="Kick-1" muted="0" opaque="1" locked="0" video-locked="0" automatic="0" whole-file="%s" '
              'import="0" external="0" sync-marked="0" left-of-split="0" right-of-split="0" hidden="0" position-locked="0" '
              'valid-transients="0" start="b0@a0" length="b%d@a0" position="a0" '
              'stretch="1" shift="1" layering-index="0" tags="" contents="1" id="%s" type="midi" '
              'first-edit="nothing" source-0="9001" master-source-0="9001"/>')
    x = x.replace("<Sources/>", '<Sources>\n    <Source name="Kick-1.mid" type="midi" flags="" id="9001" origin=""/>\n  </Sources>')
    x = x.replace("<Regions/>", "<Regions>\n    " + region % ("1", len_ticks, "9002") + "\n  </Regions>")
    x = re.sub(r'(<Playlist id="199"[^>]*?)/>', lambda m: m.group(1) + ">\n      " + region % ("0", len_ticks, "9003") + "\n    </Playlist>", x)
    x = x.replace("<Locations/>", '<Locations>\n    <Location id="9004" name="session" start="0" end="%d" flags="IsSessionRange" locked="no" time-domain="AudioTime"/>\n  </Locations>' % (end_samples))
    # make sure Kick -> Master is connected (Ardour auto-connects asynchronously; a quick save can miss it)
    for ch in (1, 2):
        x = x.replace('<Port type="audio" name="Master/audio_in %d"/>' % ch,
                      '<Port type="audio" name="Master/audio_in %d">\n          <Connection other="Kick/audio_out %d"/>\n        </Port>' % (ch, ch))
        x = x.replace('<Port type="audio" name="Kick/audio_out %d"/>' % ch,
                      '<Port type="audio" name="Kick/audio_out %d">\n          <Connection other="Master/audio_in %d"/>\n        </Port>' % (ch, ch))
    assert x.count('<Connection other="Kick/audio_out') == 2 and x.count('<Connection other="Master/audio_in') == 2
    if armed:
        x, n = re.subn(r'(<Controllable name="rec-enable" id="\d+" flags="Toggle,RealTime" value=")0"', r'\g<1>1"', x)
        assert n == 1
    open(path, "w").write(x)

if __name__ == "__main__":
    base, dest, name, armed = sys.argv[1:5]
    notes = [int(v) for v in sys.argv[5].split(",")] if len(sys.argv) > 5 else [0, 24000]
    main(base, dest, name, armed == "1", notes, int(sys.argv[6]) if len(sys.argv) > 6 else 96000)
