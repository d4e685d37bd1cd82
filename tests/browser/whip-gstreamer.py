#!/usr/bin/python3
"""A WHIP (RFC 9725) publisher made of Debian's GStreamer: webrtcbin sends a test pattern
(videotestsrc, VP8) and a tone (audiotestsrc, Opus); the WHIP exchange itself is one HTTP
POST of the offer, with every candidate in it, and a DELETE at the end.

Why not Debian's simple-whip-client (package simple-whip-client, /usr/bin/whip-client)? On
Debian 12 it aborts before sending anything: it is linked with libsoup 2, while libnice, which
GStreamer's webrtcbin loads, pulls libsoup 3 through gupnp-igd ("libsoup2 symbols detected.
Using libsoup2 and libsoup3 in the same process is not supported"). This script uses the
same GStreamer WebRTC stack (webrtcbin, libnice, GStreamer's DTLS and SRTP) from Python,
with Python's own HTTP client.

Usage: whip-gstreamer.py URL [--token T] [--cafile CA] [--local-ip 127.0.0.1]
It prints "connected" once media flow, and runs until SIGTERM or SIGINT, then DELETEs its
session.
"""
import argparse
import os
import signal
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

PIPELINE = (
    'webrtcbin name=send bundle-policy=max-bundle '
    'videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! videoconvert ! '
    'queue ! vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 ! queue ! '
    'application/x-rtp,media=video,encoding-name=VP8,payload=96 ! send. '
    'audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! queue ! opusenc ! rtpopuspay pt=111 ! queue ! '
    'application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! send. '
)


def main():
    ap = argparse.ArgumentParser(description='publish a test pattern to a WHIP endpoint with GStreamer')
    ap.add_argument('url', help='the WHIP endpoint, e.g. https://localhost:8443/visio/whip/my-room')
    ap.add_argument('--token', default='', help='Bearer token (RFC 9725 §4.7)')
    ap.add_argument('--cafile', default=None, help='CA certificate to trust for https')
    ap.add_argument('--local-ip', action='append', default=[], help='gather ICE candidates on this address only')
    args = ap.parse_args()

    Gst.init(None)
    tls = ssl.create_default_context(cafile=args.cafile)
    pipe = Gst.parse_launch(PIPELINE)
    webrtc = pipe.get_by_name('send')
    loop = GLib.MainLoop()
    state = {'location': None}

    def request(method, url, body=None, ctype=None):
        req = urllib.request.Request(url, data=body, method=method)
        if ctype:
            req.add_header('Content-Type', ctype)
        if args.token:
            req.add_header('Authorization', 'Bearer ' + args.token)
        return urllib.request.urlopen(req, context=tls, timeout=30)

    def fail(msg):
        print('whip-gstreamer: ' + msg, file=sys.stderr, flush=True)
        state['rc'] = 1
        loop.quit()

    def post_offer():
        # Every candidate is in the offer: no trickle needed (RFC 9725 §4.3.2 makes it optional).
        offer = webrtc.get_property('local-description').sdp.as_text()
        try:
            resp = request('POST', args.url, offer.encode(), 'application/sdp')
        except urllib.error.HTTPError as e:
            fail(f'POST {args.url}: {e.code} {e.read().decode(errors="replace")}')
            return
        except (urllib.error.URLError, OSError) as e:
            fail(f'POST {args.url}: {e}')
            return
        if resp.status != 201:
            fail(f'POST {args.url}: {resp.status}, not 201 Created')
            return
        state['location'] = urllib.parse.urljoin(args.url, resp.headers['Location'])
        print('session ' + state['location'], flush=True)
        _, msg = GstSdp.SDPMessage.new_from_text(resp.read().decode())
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        webrtc.emit('set-remote-description', answer, Gst.Promise.new())

    def on_gathering(element, _pspec):
        if element.get_property('ice-gathering-state') == GstWebRTC.WebRTCICEGatheringState.COMPLETE and not state.get('posted'):
            state['posted'] = True
            GLib.idle_add(post_offer)

    def on_offer(promise, _):
        reply = promise.get_reply()
        offer = reply.get_value('offer')
        webrtc.emit('set-local-description', offer, Gst.Promise.new())

    def on_negotiation_needed(element):
        element.emit('create-offer', None, Gst.Promise.new_with_change_func(on_offer, None))

    def on_connection(element, _pspec):
        s = element.get_property('connection-state')
        if s == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            print('connected', flush=True)
        elif s == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            fail('connection failed')

    def on_bus(_bus, message):
        if message.type == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            fail(f'{err.message} ({debug})')
        return True

    def stop(*_):
        if state['location']:
            try:
                request('DELETE', state['location'])
            except (urllib.error.URLError, OSError) as e:
                print(f'whip-gstreamer: DELETE: {e}', file=sys.stderr, flush=True)
        loop.quit()

    for ip in args.local_ip:
        webrtc.get_property('ice-agent').emit('add-local-ip-address', ip)
    webrtc.connect('on-negotiation-needed', on_negotiation_needed)
    webrtc.connect('notify::ice-gathering-state', on_gathering)
    webrtc.connect('notify::connection-state', on_connection)
    bus = pipe.get_bus()
    bus.add_signal_watch()
    bus.connect('message', on_bus)
    pipe.set_state(Gst.State.READY)
    # WHIP publishes: every transceiver sends only (RFC 9725 §4.2).
    for i in range(2):
        t = webrtc.emit('get-transceiver', i)
        if t is not None:
            t.set_property('direction', GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)
    pipe.set_state(Gst.State.PLAYING)
    loop.run()
    # Not pipe.set_state(NULL): webrtcbin's teardown may block (libnice), and the process
    # ends here anyway.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(state.get('rc', 0))


if __name__ == '__main__':
    main()
