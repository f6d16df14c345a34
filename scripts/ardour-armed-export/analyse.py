"""Peak of an exported file where each note sounds: 0..12000 (the note at 0) and 24000..36000."""
import sys, numpy as np, soundfile as sf
for path in sys.argv[1:]:
    x, sr = sf.read(path, always_2d=True)
    m = np.abs(x).max(axis=1)
    def seg(a, b): return m[a:b].max() if b > a else 0.0
    onset = int(np.argmax(m > 1e-3)) if (m > 1e-3).any() else -1
    # second note at 24000
    print(f"{path}: frames={len(x)} sr={sr} peak[0:12000]={seg(0,12000):.4f} peak[24000:36000]={seg(24000,36000):.4f} "
          f"rms[0:12000]={np.sqrt((x[0:12000]**2).mean()):.4f} rms[24000:36000]={np.sqrt((x[24000:36000]**2).mean()):.4f} first>1e-3 at {onset}")
