#!/usr/bin/python3
"""Drives N real OpenDHT 2.4.12 nodes (python3-opendht DhtRunners) in one process for jami-ts interop tests.

Loopback only: every runner binds 127.0.0.1 and bootstraps from the given loopback addresses.
Run with Debian's /usr/bin/python3. Commands are JSON lines on stdin, answers JSON lines on stdout:

  start:   {"event":"ready","nodes":[{"index","addr","node_id","pkid"}]}
  {"id":1,"cmd":"put","node":0,"key":K,"data_hex":H,"type":0,"user_type":""}      -> {"id":1,"ok":bool}
  {"id":2,"cmd":"get","node":0,"key":K}    -> {"id":2,"ok":bool,"values":[...],"elapsed_ms","messages" (requests sent)}
  {"id":3,"cmd":"listen","node":0,"key":K}   -> {"id":3,"ok":true}, then {"event":"value","listen":3,...,"expired":bool}
  {"id":4,"cmd":"cancel","listen":3}                                             -> {"id":4,"ok":true}
  {"id":5,"cmd":"quit"}
K is 40 hex digits (an InfoHash) or any string (SHA-1 of it). Nodes with an identity (--identity-nodes) run
OpenDHT's SecureDht: their gets and listens return values encrypted for them already decrypted.
"""
import argparse
import ipaddress
import json
import re
import sys
import threading
import time

import opendht as dht

LOCK = threading.Lock()


def emit(obj):
    with LOCK:
        sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
        sys.stdout.flush()


def to_key(k):
    if re.fullmatch(r"[0-9a-fA-F]{40}", k):
        return dht.InfoHash(k.lower().encode())
    return dht.InfoHash.get(k)


def value_json(v):
    s = str(v)
    data = bytes(v.data)
    o = {"id": str(v.id), "data_hex": data.hex(), "user_type": v.user_type,
         "signed": " signed " in s, "encrypted": " encrypted " in s}
    try:
        o["data_utf8"] = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if o["signed"]:
        o["owner"] = v.owner.toString().decode()
        m = re.search(r"signed \(v(\d+)\)", s)
        if m:
            o["seq"] = int(m.group(1))
    return o


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--identity-nodes", type=int, default=0, help="the first K nodes get a generated identity")
    ap.add_argument("--bootstrap", "-b", action="append", default=[])
    ap.add_argument("--network", type=int, default=0)
    args = ap.parse_args()

    runners = []
    infos = []
    for i in range(args.nodes):
        cfg = dht.DhtConfig()
        if args.network:
            cfg.setNetwork(args.network)
        if i < args.identity_nodes:
            cfg.setIdentity(dht.Identity.generate("driver-%d" % i))
        r = dht.DhtRunner()
        r.run(port=0, ipv4="127.0.0.1", config=cfg)
        boots = list(args.bootstrap) + ([infos[0]["addr"]] if infos else [])
        for b in boots:
            host, port = b.rsplit(":", 1)
            if not ipaddress.ip_address(host).is_loopback:
                raise SystemExit("refusing non-loopback bootstrap " + b)
            r.bootstrap(host, port)
        runners.append(r)
        infos.append({"index": i, "addr": r.getBound().toString().decode(),
                      "node_id": r.getNodeId().decode(), "pkid": r.getId().toString().decode()})
    emit({"event": "ready", "nodes": infos})

    listens = {}
    for line in sys.stdin:
        try:
            c = json.loads(line)
        except ValueError:
            continue
        cid = c.get("id")
        cmd = c.get("cmd")
        if cmd == "quit":
            break
        r = runners[c.get("node", 0)] if cmd in ("put", "get", "listen") else None
        if cmd == "put":
            v = dht.Value(bytes.fromhex(c["data_hex"]), int(c.get("type", 0)))
            if c.get("user_type"):
                v.user_type = c["user_type"]

            def done(ok, nodes, cid=cid):
                emit({"id": cid, "ok": bool(ok)})
            r.put(to_key(c["key"]), v, done)
        elif cmd == "get":
            # Synchronous: python3-opendht deadlocks if the runner is called from (or while in) one of its
            # callbacks, and the message counters must be read after the get, from this thread.
            found = []
            r.getNodeMessageStats()  # reads and resets the runner's outgoing message counters
            done = threading.Event()
            result = {}

            def on_value(v, found=found):
                found.append(value_json(v))
                return True

            def on_done(ok, nodes, done=done, result=result):
                result["ok"] = bool(ok)
                result["elapsed_ms"] = (time.monotonic() - started) * 1000
                done.set()
            started = time.monotonic()
            r.get(to_key(c["key"]), on_value, on_done)
            done.wait(60)
            emit({"id": cid, "ok": result.get("ok", False), "values": found,
                  "elapsed_ms": result.get("elapsed_ms"), "messages": sum(r.getNodeMessageStats())})
        elif cmd == "listen":
            def on_listen(v, expired, cid=cid):
                o = value_json(v)
                o.update({"event": "value", "listen": cid, "expired": bool(expired)})
                emit(o)
                return True
            key = to_key(c["key"])
            listens[cid] = (r, key, r.listen(key, on_listen))
            emit({"id": cid, "ok": True})
        elif cmd == "cancel":
            entry = listens.pop(c.get("listen"), None)
            if entry:
                entry[0].cancelListen(entry[2])
            emit({"id": cid, "ok": entry is not None})
    for r in runners:
        r.shutdown()
    for r in runners:
        r.join()


if __name__ == "__main__":
    main()
