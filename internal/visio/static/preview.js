// The preview before joining a meeting: the camera as the others will see it, the
// microphone's level, and the choice of both. What is chosen goes into the meeting
// (Media.start takes the device ids; room.js applies the on/off choices).

export class Preview {
  /**
   * @param {{video: HTMLVideoElement, meter: HTMLMeterElement, mic: HTMLSelectElement,
   *   cam: HTMLSelectElement, note: HTMLElement, M: Record<string, string>}} o
   */
  constructor({ video, meter, mic, cam, note, M }) {
    Object.assign(this, { video, meter, mic, cam, note, M });
    this.stream = null;
    this.audio = null; // the AudioContext measuring the microphone
    this.timer = null;
    this.level = 0;
    mic.addEventListener('change', () => this.open());
    cam.addEventListener('change', () => this.open());
    // An AudioContext made before the page had a gesture starts suspended (Chromium's
    // autoplay policy): the first click or key lets the meter move.
    const resume = () => this.audio?.resume().catch(() => {});
    for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, resume, { capture: true });
  }

  /** open takes the chosen (or default) camera and microphone, each alone if both fail. */
  async open() {
    this.stopTracks();
    const audio = this.mic.value ? { deviceId: { exact: this.mic.value } } : true;
    const video = this.cam.value ? { deviceId: { exact: this.cam.value }, width: 640, height: 360 } : { width: 640, height: 360 };
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio, video });
    } catch {
      // A laptop without a camera still shows its microphone's level, and the reverse.
      const tracks = [];
      for (const c of [{ audio }, { video }]) {
        try { tracks.push(...(await navigator.mediaDevices.getUserMedia(c)).getTracks()); } catch { /* said below */ }
      }
      stream = new MediaStream(tracks);
    }
    this.stream = stream;
    this.hasAudio = stream.getAudioTracks().length > 0;
    this.hasVideo = stream.getVideoTracks().length > 0;
    this.video.srcObject = this.hasVideo ? stream : null;
    const missing = !this.hasAudio && !this.hasVideo ? 'pre.none' : !this.hasVideo ? 'pre.nocam' : !this.hasAudio ? 'pre.nomic' : '';
    this.note.textContent = missing ? this.M[missing] : '';
    this.note.hidden = !missing;
    this.#measure();
    await this.#listDevices();
  }

  /** #measure shows the microphone's RMS level, with a short decay so that speech is seen. */
  #measure() {
    clearInterval(this.timer);
    this.meter.value = this.level = 0;
    if (!this.hasAudio) return;
    if (!this.audio) this.audio = new AudioContext();
    const analyser = this.audio.createAnalyser();
    analyser.fftSize = 1024;
    this.source?.disconnect();
    this.source = this.audio.createMediaStreamSource(this.stream);
    this.source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const rms = Math.sqrt(sum / samples.length);
      this.level = Math.max(Math.min(1, rms * 4), this.level * 0.8);
      this.meter.value = this.level;
    }, 100);
  }

  async #listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
    const current = (kind) => this.stream.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId || '';
    for (const [kind, sel, track] of [['audioinput', this.mic, 'audio'], ['videoinput', this.cam, 'video']]) {
      const chosen = current(track) || sel.value;
      sel.length = 0;
      for (const d of devices.filter((d) => d.kind === kind && d.deviceId)) {
        sel.append(new Option(d.label || d.deviceId.slice(0, 8), d.deviceId, false, d.deviceId === chosen));
      }
      sel.disabled = sel.length === 0;
    }
  }

  /** choices are the devices chosen, for Media.start. */
  choices() {
    return { audio: this.hasAudio ? this.mic.value : '', video: this.hasVideo ? this.cam.value : '' };
  }

  stopTracks() {
    for (const t of this.stream?.getTracks() || []) t.stop();
    this.stream = null;
  }

  /** stop lets the camera and microphone go: the meeting takes them again. */
  stop() {
    clearInterval(this.timer);
    this.stopTracks();
    this.video.srcObject = null;
    this.audio?.close().catch(() => {});
    this.audio = null;
  }
}
