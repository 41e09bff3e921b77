# Device call: keep the carried piece of a pack on the warm machine (the next call within 30 s finds it).
# carry: .carry/pk
mkdir -p /tmp/pk && cp .carry/pk/* /tmp/pk/ && ls -la /tmp/pk && df -h /tmp | tail -1
