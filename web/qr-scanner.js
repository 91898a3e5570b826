// Scanning an invitation's QR code with the camera, where the browser can (BarcodeDetector and
// getUserMedia); elsewhere the Scan button stays hidden.
import { byId } from '/web/dom.js';

const el = {
  scan: byId('scan-qr'), scanner: byId('scanner'), video: byId('scanner-video'), stop: byId('scan-stop'),
};

const canScan = 'BarcodeDetector' in window && !!navigator.mediaDevices?.getUserMedia;
el.scan.hidden = !canScan;
let scanning = null; // {stream, timer}

/// Where the scanner reports: `status(text)` and `error(text)` (the paste panel's lines) and
/// `found(link)` with an invitation link read from a code. Set by the new-chat view.
let report = { status() {}, error() {}, found() {} };

/// Sets where the scanner reports (see `report`).
export function onScan(to) {
  report = to;
}

el.scan.addEventListener('click', async () => {
  if (scanning) return;
  report.error('');
  try {
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    scanning = { stream, timer: 0 };
    el.video.srcObject = stream;
    el.scanner.hidden = false;
    el.scan.hidden = true;
    report.status('Point the camera at the invitation’s QR code.');
    await el.video.play().catch(() => {});
    el.stop.focus();
    const look = async () => {
      if (!scanning || scanning.stream !== stream) return;
      try {
        const codes = await detector.detect(el.video);
        const link = codes.map((c) => c.rawValue).find((v) => v?.includes('#/invite/'));
        if (link) {
          stopScanning();
          report.found(link);
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
el.stop.addEventListener('click', () => { stopScanning(); el.scan.focus(); });

/// Stops the camera and hides the scanner (nothing happens when it is not running).
export function stopScanning() {
  if (scanning) {
    clearTimeout(scanning.timer);
    for (const t of scanning.stream.getTracks()) t.stop();
    scanning = null;
  }
  el.video.srcObject = null;
  el.scanner.hidden = true;
  el.scan.hidden = !canScan;
}
