"""Peak memory and time of building the code cache, for growing data sets.

    python bench/bench_cache.py [--sizes 8192 65536] [--image-size 32]

Each size runs in a fresh process (render polygons, encode with the fast backend, fit the PCA,
write z) and reports its peak resident memory (``ru_maxrss``).  Streaming keeps the peak flat:
it must not grow with the number of images.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def build_once(n: int, image_size: int, root: str, n_components: int) -> dict:
    from scatgen.data.polygons import Polygons
    from scatgen.encoding.code_cache import CodeCache
    from scatgen.scattering.transform import Scattering
    from scatgen.encoding.whitening import PCAWhitening

    t = time.perf_counter()
    source = Polygons(f"{root}/data", image_size=image_size, n_train=n, n_test=1024)
    source.prepare()
    render_s = time.perf_counter() - t
    encoder = Scattering(J=4 if image_size >= 32 else 3, image_size=image_size)
    whitening = PCAWhitening(n_components, encoder.code_shape)
    t = time.perf_counter()
    CodeCache(f"{root}/cache", source, encoder, whitening, progress=False).load_or_build()
    return {"n": n, "render_s": render_s, "cache_s": time.perf_counter() - t,
            "code_numbers": int(encoder.code_shape[0] * encoder.code_shape[1] * encoder.code_shape[2]),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8192, 65536])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--n-components", type=int, default=512)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(build_once(args.child, args.image_size, args.root, args.n_components)))
        return
    print(f"{'images':>8} {'render s':>9} {'cache s':>8} {'img/s':>7} {'peak RSS MB':>12}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="scatgen-cache-") as root:
            out = subprocess.run([sys.executable, __file__, "--child", str(n), "--root", root,
                                  "--image-size", str(args.image_size), "--n-components", str(args.n_components)],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['n']:>8} {r['render_s']:>9.1f} {r['cache_s']:>8.1f} {(r['n'] + 1024) / r['cache_s']:>7.0f} "
              f"{r['peak_rss_mb']:>12.0f}")


if __name__ == "__main__":
    main()
