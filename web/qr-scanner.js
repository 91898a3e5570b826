// Scanning a QR code with the camera, where the browser can (BarcodeDetector and getUserMedia);
// elsewhere the Scan buttons stay hidden. Each view that scans has its own scanner: the New
// chat view reads invitations, a conversation's Verify panel the contact's security code.

const canScan = () => 'BarcodeDetector' in window && !!navigator.mediaDevices?.getUserMedia;

/// A scanner on the view's elements: `button` starts it, `box` (holding `video` and the `stop`
/// button) shows while it runs. `accept(value)` says whether a code read is the one wanted;
/// `prompt` is the status line while scanning. `report` gets `status(text)`, `error(text)` and
/// `found(value)`. Returns `{ stop }`, which stops the camera (nothing happens when it is off).
export function scanner({ button, box, video, stop, accept, prompt, report }) {
  let scanning = null; // {stream, timer}
  button.hidden = !canScan();

  const stopScanning = () => {
    if (scanning) {
      clearTimeout(scanning.timer);
      for (const t of scanning.stream.getTracks()) t.stop();
      scanning = null;
    }
    video.srcObject = null;
    box.hidden = true;
    button.hidden = !canScan();
  };

  button.addEventListener('click', async () => {
    if (scanning) return;
    report.error('');
    try {
      const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      scanning = { stream, timer: 0 };
      video.srcObject = stream;
      box.hidden = false;
      button.hidden = true;
      report.status(prompt);
      await video.play().catch(() => {});
      stop.focus();
      const look = async () => {
        if (!scanning || scanning.stream !== stream) return;
        try {
          const codes = await detector.detect(video);
          const value = codes.map((c) => c.rawValue).find((v) => typeof v === 'string' && accept(v));
          if (value) {
            stopScanning();
            report.found(value);
            return;
          }
        } catch { /* a frame that could not be read */ }
        if (scanning?.stream === stream) scanning.timer = setTimeout(look, 250);
      };
      look();
    } catch (err) {
      stopScanning();
      report.status('');
      report.error(`Sotto could not use the camera: ${err?.message ?? err}`);
    }
  });
  stop.addEventListener('click', () => { stopScanning(); button.focus(); });
  return { stop: stopScanning };
}
