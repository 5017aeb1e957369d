# Medians of TIME_WAIT's latency after the peer's LAST_ACK (its FIN sent),
# and after the peer's FIN packet when captured, over runs alternating
# with and without the capture.
import json, subprocess, statistics, sys
n = int(sys.argv[1]); binary = sys.argv[2]
res = {"capture": [], "nocapture": [], "fin": []}
for i in range(n):
    for mode in ("capture", "nocapture"):
        args = [binary, "demo", "-j", "--step", "50ms", "--source", "trace"]
        if mode == "nocapture":
            args.append("--no-capture")
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        lines = [json.loads(l) for l in out.splitlines()]
        la = next(l["us"] for l in lines if l.get("type") == "state" and l["socket"] == "client" and l["state"] == "LAST_ACK")
        tw = next(l["us"] for l in lines if l.get("type") == "state" and l["socket"] == "server conn" and l["state"] == "TIME_WAIT")
        res[mode].append(tw - la)
        if mode == "capture":
            fin = [l["us"] for l in lines if l.get("type") == "packet" and l["from"] == "client" and "FIN" in l["flags"]][0]
            res["fin"].append(tw - fin)
for k, v in res.items():
    print(k, "median_us", statistics.median(v), "all", sorted(v))
