# A stand-in for systemd's notification socket: binds an AF_UNIX SOCK_DGRAM socket at argv[1],
# prints "bound", then one line per datagram (JSON string), until argv[2] seconds of silence.
# Ancillary data (the BARRIER=1 fd of systemd-notify) is not accepted, so the kernel closes the
# passed fd, which is what releases systemd-notify's barrier wait.
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
s.settimeout(float(sys.argv[2]))
try:
    while True:
        print(json.dumps(s.recv(65536).decode()), flush=True)
except socket.timeout:
    pass
