// Unit tests of the listener page's pure helpers (node's own test runner, no packages):
//   node --test ui/listener/test/
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const page = require('../listener.js');

const NAME = 'k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8';
const T0 = Date.parse('2026-12-01T09:10:00.000Z');

function iso(ms) {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

// A live playlist as the station writes it: 10 segments of 6 s from T0, lookahead 4.
function playlist() {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:7',
    '#EXT-X-MEDIA-SEQUENCE:120', '#EXT-X-DISCONTINUITY-SEQUENCE:7',
    '#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-START:TIME-OFFSET=-30.000'];
  for (let i = 0; i < 10; i++) {
    if (i === 5) {
      lines.push('#EXT-X-DISCONTINUITY');
    }
    lines.push('#EXT-X-PROGRAM-DATE-TIME:' + iso(T0 + i * 6000));
    lines.push('#EXTINF:6.000,' + (i < 5 ? 'Test - Tone 440' : 'Station ID'));
    lines.push('s/' + (120 + i) + '.ts');
  }
  return lines.join('\n') + '\n';
}

test('parsePlaylist reads what the station writes', () => {
  const pl = page.parsePlaylist(playlist());
  assert.equal(pl.targetDuration, 7);
  assert.equal(pl.mediaSequence, 120);
  assert.equal(pl.startOffset, -30);
  assert.equal(pl.endList, false);
  assert.equal(pl.segments.length, 10);
  assert.equal(pl.totalDuration, 60);
  assert.deepEqual(pl.segments[5], {
    seq: 125, uri: 's/125.ts', duration: 6, title: 'Station ID', pdt: T0 + 30000, start: 30
  });
  assert.equal(page.parsePlaylist('not a playlist'), null);
  assert.equal(page.parsePlaylist(null), null);
});

test('parsePlaylist carries a missing program date time forward', () => {
  const pl = page.parsePlaylist('#EXTM3U\r\n#EXT-X-PROGRAM-DATE-TIME:2026-12-01T09:10:00Z\r\n' +
    '#EXTINF:4,a\r\ns/1.ts\r\n#EXTINF:4,\r\ns/2.ts\r\n');
  assert.equal(pl.segments[1].pdt, T0 + 4000);
  assert.equal(pl.segments[1].title, '');
});

test('startPosition: the segment covering now, at the right offset', () => {
  const segs = page.parsePlaylist(playlist()).segments;
  assert.deepEqual(page.startPosition(segs, T0 + 33500, -30), { pos: 33.5, fellBack: false });
  // The listener's clock is behind the station's: the first segment.
  assert.deepEqual(page.startPosition(segs, T0 - 5000, -30), { pos: 0, fellBack: false });
  // Now is past the end: #EXT-X-START, counted from the end.
  assert.deepEqual(page.startPosition(segs, T0 + 100000, -30), { pos: 30, fellBack: true });
  assert.deepEqual(page.startPosition(segs, T0 + 100000, -300), { pos: 0, fellBack: true });
  assert.deepEqual(page.startPosition(segs, T0 + 100000, null), { pos: null, fellBack: true });
});

test('choosePlayer: hls.js with MSE, native without, else none', () => {
  const audio = (answer) => ({ canPlayType: (t) => (/mpegurl/i.test(t) ? answer : '') });
  const Hls = { isSupported: () => true };
  assert.equal(page.choosePlayer({ MediaSource: function () {}, Hls }, audio('')).player, 'hls.js');
  assert.equal(page.choosePlayer({ ManagedMediaSource: function () {}, Hls }, audio('')).player,
    'hls.js');
  // Desktop Safari has both: hls.js (it starts at the air time to the millisecond).
  assert.equal(page.choosePlayer({ MediaSource: function () {}, Hls }, audio('maybe')).player,
    'hls.js');
  // iOS Safari before 17.1: no MSE, native HLS.
  const noMse = { Hls: { isSupported: () => false } };
  assert.equal(page.choosePlayer(noMse, audio('maybe')).player, 'native');
  assert.equal(page.choosePlayer({}, audio('probably')).player, 'native');
  assert.deepEqual(page.choosePlayer(noMse, audio('')), { player: null, reason: 'no-hls' });
  assert.deepEqual(page.choosePlayer({ MediaSource: function () {} }, audio('')),
    { player: null, reason: 'no-library' });
});

test('URLs are relative to the page, on both gateway kinds', () => {
  const path = 'http://127.0.0.1:8080/ipns/' + NAME + '/';
  const sub = 'http://' + NAME + '.ipns.localhost:8080/';
  assert.equal(page.streamUrl(path, null), path + 'live.m3u8');
  assert.equal(page.streamUrl(path + 'index.html?x=1#y', 'live.m3u8'), path + 'live.m3u8');
  assert.equal(page.streamUrl(sub, 'live.m3u8'), sub + 'live.m3u8');
  assert.equal(page.streamUrl(sub, 'other/live.m3u8'), sub + 'other/live.m3u8');
  // Another origin would be refused by the CSP: the default instead.
  assert.equal(page.streamUrl(sub, 'https://example.org/x.m3u8'), sub + 'live.m3u8');
  assert.equal(page.nameFromLocation(path + 'index.html'), NAME);
  assert.equal(page.nameFromLocation(sub), NAME);
  assert.equal(page.nameFromLocation('http://127.0.0.1:9/'), null);
  assert.deepEqual(page.liveSiteUrl(path + 'index.html', NAME), { url: path, snapshot: false });
  assert.deepEqual(page.liveSiteUrl(sub, NAME), { url: sub, snapshot: false });
  // A fixed copy (/ipfs/<cid>/): the live site is the IPNS name on the same gateway.
  assert.deepEqual(page.liveSiteUrl('http://127.0.0.1:8080/ipfs/bafyabc/', NAME),
    { url: path, snapshot: true });
  assert.deepEqual(page.liveSiteUrl('https://bafyabc.ipfs.dweb.link/', NAME),
    { url: 'https://' + NAME + '.ipns.dweb.link/', snapshot: true });
  assert.deepEqual(page.liveSiteUrl('https://bafyabc.ipfs.dweb.link/', 'radio.example-fm.org'),
    { url: 'https://radio-example--fm-org.ipns.dweb.link/', snapshot: true });
});

test('station.json: liberal reading, items at air times, next up', () => {
  const at = (s) => new Date(T0 + s * 1000).toISOString();
  const st = page.normStation({
    format: 1,
    station: 'Night Shift FM',
    ipns_name: NAME,
    stream: 'live.m3u8',
    now_playing: { title: 'Song', artist: 'Artist', kind: 'track', air_start: at(0), duration: 180 },
    next_up: [
      { title: 'ID', artist: null, kind: 'jingle', air_start: at(180), duration: 4 },
      { title: 'Next', artist: 'B', air_start: at(184), duration: 200 },
      'garbage', { nothing: 1 }
    ],
    history: [{ title: 'Before', artist: 'C', air_start: at(-200), duration: 200 }]
  });
  assert.equal(st.name, 'Night Shift FM');
  assert.equal(st.ipnsName, NAME);
  assert.equal(st.items.length, 4);
  assert.equal(page.itemLabel(page.itemAt(st.items, T0 + 10000)), 'Artist - Song');
  assert.equal(page.itemAt(st.items, T0 - 1000).title, 'Before');
  assert.equal(page.itemLabel(page.itemAt(st.items, T0 + 181000)), 'ID');
  assert.deepEqual(page.upcoming(st, T0 + 10000, 3).map((i) => i.title), ['ID', 'Next']);
  assert.deepEqual(page.upcoming(st, T0 + 10000, 3)[0].raw,
    { title: 'ID', artist: null, kind: 'jingle', air_start: at(180), duration: 4 });
  // Old pages' station.json, and nothing at all.
  assert.equal(page.normStation({ ipns_name: NAME, title: 'Old FM' }).name, 'Old FM');
  const empty = page.normStation(null);
  assert.equal(empty.name, null);
  assert.deepEqual(page.upcoming(empty, T0, 3), []);
  assert.equal(page.normStation({ ipns_name: '../../etc' }).ipnsName, null);
});

test('splitExtinf', () => {
  assert.deepEqual(page.splitExtinf('Test - Tone 440'), { artist: 'Test', title: 'Tone 440' });
  assert.deepEqual(page.splitExtinf('Station ID'), { artist: null, title: 'Station ID' });
});
