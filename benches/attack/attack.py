# Figures of docs/performance.md, "Under attack": one client on loopback
# (from 127.0.0.2) attacks the release binary with its default flags while a
# legitimate client (curl from 127.0.0.1, a fresh connection each time) sends
# one request a second for DURATION seconds and counts the answers within the
# bound the API server (or the kubelet) would wait. MODE is one attack of
# issue 21:
#
#   tcp        400 connections that never send a ClientHello, reconnecting
#   tls        400 connections that finish TLS and then send nothing, reconnecting
#   keepalive  256 HTTP/1.1 keep-alive connections, each sending one valid
#              review every 9 s (reconnecting when closed)
#   h2         256 HTTP/2 connections x 8 streams, each declaring
#              `content-length: 10` and never sending it, reopened when answered
#   declared   60 connections declaring a 1 MiB body and sending none, reconnecting
#   admin      40 keep-alive connections probing the admin port's /livez every
#              9 s; the legitimate client is a kubelet probing /readyz within 1 s
#
# It prints the answered count and the server's peak RSS (VmHWM).
#
#   make attack-tools     (a virtualenv in target/attack-venv with the h2 package)
#   kueue-ray-webhook certs --out /tmp/measure/certs
#   (a review in /tmp/measure/review.json)
#   ulimit -n 8192; target/attack-venv/bin/python benches/attack/attack.py BINARY MODE 30 [COUNT]
#
# Not part of `make test`: tests/server_attacks.rs checks the same attacks.
import asyncio, json, os, signal, ssl, subprocess, sys, threading, time

BIN, MODE, DURATION = sys.argv[1], sys.argv[2], int(sys.argv[3])
# Optional: the attack's connection count instead of the issue's.
COUNT = int(sys.argv[4]) if len(sys.argv) > 4 else None
C = "/tmp/measure/certs"
REVIEW = open("/tmp/measure/review.json", "rb").read()
ATTACKER = ("127.0.0.2", 0)

proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
    "--log-format", "json", "--tls-cert-file", f"{C}/tls.crt", "--tls-key-file", f"{C}/tls.key",
    "--shutdown-delay", "0s", "--log-level", "warn,kueue_ray_webhook::server=info"],
    stdout=subprocess.PIPE, text=True)
ports = {}
while len(ports) < 2:
    line = json.loads(proc.stdout.readline())
    if line.get("listener") in ("admission", "admin") and "addr" in line:
        ports[line["listener"]] = int(line["addr"].rsplit(":", 1)[1])
threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
PORT, ADMIN = ports["admission"], ports["admin"]


def tls_context(alpn):
    ctx = ssl.create_default_context(cafile=f"{C}/ca.crt")
    ctx.set_alpn_protocols([alpn])
    return ctx


async def connect_tls(alpn):
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", PORT, ssl=tls_context(alpn),
        server_hostname="localhost", local_addr=ATTACKER), 10)


async def read_response(r):
    """Reads one HTTP/1.1 response; returns its status, or None at EOF."""
    head = await r.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await r.readexactly(length)
    return status


async def silent(tls):
    while True:
        try:
            if tls:
                r, w = await connect_tls("http/1.1")
            else:
                r, w = await asyncio.open_connection("127.0.0.1", PORT, local_addr=ATTACKER)
            await r.read(1)
            w.close()
        except Exception:
            await asyncio.sleep(0.05)


async def keepalive():
    request = (b"POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n" % len(REVIEW)) + REVIEW
    while True:
        try:
            r, w = await connect_tls("http/1.1")
            while True:
                w.write(request)
                await read_response(r)
                await asyncio.sleep(9)
        except Exception:
            await asyncio.sleep(0.05)


async def declared():
    request = (b"POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
               b"content-length: 1048576\r\n\r\n")
    while True:
        try:
            r, w = await connect_tls("http/1.1")
            w.write(request)
            await r.read(1)  # an answer (408, 429) or the close
            w.close()
        except Exception:
            await asyncio.sleep(0.05)


async def h2_connection():
    import h2.config, h2.connection, h2.events
    while True:
        try:
            r, w = await connect_tls("h2")
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()

            def open_stream():
                conn.send_headers(conn.get_next_available_stream_id(), [
                    (":method", "POST"), (":scheme", "https"), (":authority", "localhost"),
                    (":path", "/validate"), ("content-type", "application/json"),
                    ("content-length", "10")])

            for _ in range(8):
                open_stream()
            w.write(conn.data_to_send())
            while True:
                data = await r.read(65536)
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                        open_stream()
                w.write(conn.data_to_send())
            w.close()
        except Exception:
            await asyncio.sleep(0.05)


async def admin_prober():
    while True:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", ADMIN, local_addr=ATTACKER)
            while True:
                w.write(b"GET /livez HTTP/1.1\r\nhost: localhost\r\n\r\n")
                await read_response(r)
                await asyncio.sleep(9)
        except Exception:
            await asyncio.sleep(0.05)


ATTACKS = {
    "tcp": (400, lambda: silent(False)),
    "tls": (400, lambda: silent(True)),
    "keepalive": (256, keepalive),
    "h2": (256, h2_connection),
    "declared": (60, declared),
    "admin": (40, admin_prober),
}


async def legitimate():
    """One request a second on a fresh connection; (answered in time, sent, other codes)."""
    ok = total = 0
    codes = {}
    t0 = time.time()
    while time.time() - t0 < DURATION:
        total += 1
        if MODE == "admin":
            args = ["--max-time", "1", f"http://127.0.0.1:{ADMIN}/readyz"]
        else:
            args = ["--max-time", "5", "--cacert", f"{C}/ca.crt", "-H", "content-type: application/json",
                    "--data", "@/tmp/measure/review.json", f"https://localhost:{PORT}/validate"]
        p = await asyncio.create_subprocess_exec("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
            *args, stdout=asyncio.subprocess.PIPE)
        out, _ = await p.communicate()
        ok += out == b"200"
        if out != b"200":
            codes[out.decode() or "none"] = codes.get(out.decode() or "none", 0) + 1
        await asyncio.sleep(1)
    return ok, total, codes


def peak_rss_mib():
    for line in open(f"/proc/{proc.pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main():
    count, attack = ATTACKS[MODE]
    count = COUNT or count
    tasks = [asyncio.create_task(attack()) for _ in range(count)]
    await asyncio.sleep(2)
    ok, total, codes = await legitimate()
    for t in tasks:
        t.cancel()
    what = "/readyz probes answered within 1 s" if MODE == "admin" else "reviews answered within 5 s"
    others = ", ".join(f"{n} got {c}" for c, n in sorted(codes.items())) or "none other"
    print(f"{os.path.basename(BIN)} {MODE} x{count}: {ok} of {total} {what} ({others}); "
          f"peak RSS {peak_rss_mib():.0f} MiB")


asyncio.run(main())
proc.send_signal(signal.SIGKILL)
