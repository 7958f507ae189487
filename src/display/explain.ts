/**
 * --explain: one short sentence for each socket step as it happens, named
 * after the system call a C or Python program would make, in English or
 * Japanese.
 */

import type { Endpoint } from "../runtime/types.ts";
import { addressTuple, peerTuple } from "./bytes.ts";

export type Lang = "en" | "ja";

export type ExplainStep =
  | { step: "socket"; proto: "tcp" | "udp"; family: Endpoint["family"] }
  | { step: "bind"; local: Endpoint; range: string }
  | { step: "listen"; backlog: number }
  | { step: "accept"; peer: Endpoint; local: Endpoint }
  | { step: "connect"; peer: Endpoint; local: Endpoint }
  | { step: "recv"; bytes: number; proto: "tcp" | "udp"; peer: Endpoint }
  | { step: "send"; bytes: number; proto: "tcp" | "udp"; peer: Endpoint; queued: number }
  | { step: "peer-fin" }
  | { step: "shutdown" }
  | { step: "close"; reason: string }
  | { step: "icmp-unreachable"; peer: Endpoint }
  | { step: "no-reply"; waitMs: number };

type Sentences = { [K in ExplainStep["step"]]: (s: Extract<ExplainStep, { step: K }>) => string };

const familyName = (family: Endpoint["family"]) => (family === "IPv6" ? "AF_INET6" : "AF_INET");
const typeName = (proto: "tcp" | "udp") => (proto === "tcp" ? "SOCK_STREAM" : "SOCK_DGRAM");

const RANGE_JA: Record<string, string> = {
  "well-known": "ウェルノウンポート",
  registered: "登録済みポート",
  "dynamic/private": "動的・プライベートポート",
};

const REASON_EN: Record<string, string> = {
  eof: "both sides sent FIN",
  reset: "the connection was reset",
  timeout: "idle timeout",
  local: "closed by us",
  error: "after an error",
};

const REASON_JA: Record<string, string> = {
  eof: "双方が FIN を送りました",
  reset: "接続がリセットされました",
  timeout: "アイドルタイムアウト",
  local: "こちらから閉じました",
  error: "エラーのため",
};

const EN: Sentences = {
  socket: (s) =>
    `socket(${familyName(s.family)}, ${typeName(s.proto)}): a ${s.proto.toUpperCase()} socket for ${s.family} is created.` +
    (s.proto === "tcp"
      ? " TCP carries one ordered byte stream each way."
      : " UDP sends separate datagrams, with no connection."),
  bind: (s) =>
    `bind(${addressTuple(s.local)}): the socket takes this address; port ${s.local.port} is in the ${s.range} range.`,
  listen: (s) =>
    `listen(${s.backlog}): the kernel now answers connection requests and queues up to ${s.backlog} finished handshakes.`,
  accept: (s) =>
    `accept(): ${peerTuple(s.peer)} completed the three-way handshake (SYN, SYN-ACK, ACK); it gets its own socket.`,
  connect: (s) =>
    `connect(${addressTuple(s.peer)}): handshake done (SYN, SYN-ACK, ACK); the kernel chose local port ${s.local.port}.`,
  recv: (s) =>
    s.proto === "tcp"
      ? `recv(): ${s.bytes} bytes arrived. A chunk is whatever the kernel had: part of a message, or several.`
      : `recvfrom(): one datagram of ${s.bytes} bytes from ${addressTuple(s.peer)}; UDP keeps message boundaries.`,
  send: (s) =>
    s.proto === "udp"
      ? `sendto(${addressTuple(s.peer)}): one datagram of ${s.bytes} bytes; UDP does not say whether it arrives.`
      : s.queued > 0
        ? `send(): the kernel took only part of ${s.bytes} bytes; ${s.queued} wait in sockdemo's queue until the socket drains (sendall).`
        : `send(): ${s.bytes} bytes handed to the kernel, which sends them as TCP segments.`,
  "peer-fin": () =>
    "recv() returned b'': the peer sent FIN. It will send nothing more, but it can still receive.",
  shutdown: () =>
    "shutdown(SHUT_WR): we send FIN once everything queued is sent; we can still receive.",
  close: (s) => `close(): the socket is released (${REASON_EN[s.reason] ?? s.reason}).`,
  "icmp-unreachable": (s) =>
    `The host at ${addressTuple(s.peer)} answered with ICMP "port unreachable": no socket is bound to that port.`,
  "no-reply": (s) =>
    `Nothing came back within ${s.waitMs} ms. UDP has no acknowledgements, so silence proves nothing either way.`,
};

const JA: Sentences = {
  socket: (s) =>
    `socket(${familyName(s.family)}, ${typeName(s.proto)}): ${s.family} の ${s.proto.toUpperCase()} ソケットを作ります。` +
    (s.proto === "tcp"
      ? "TCP は双方向に順序どおりのバイト列を運びます。"
      : "UDP は接続なしで個々のデータグラムを送ります。"),
  bind: (s) =>
    `bind(${addressTuple(s.local)}): ソケットにこのアドレスを割り当てます。ポート ${s.local.port} は${RANGE_JA[s.range] ?? s.range}の範囲です。`,
  listen: (s) =>
    `listen(${s.backlog}): カーネルが接続要求に応え、完了したハンドシェイクを最大 ${s.backlog} 件まで待たせます。`,
  accept: (s) =>
    `accept(): ${peerTuple(s.peer, "不明な相手(アドレスを読む前に切断)")} が3ウェイハンドシェイク(SYN, SYN-ACK, ACK)を終えました。この接続専用のソケットができます。`,
  connect: (s) =>
    `connect(${addressTuple(s.peer)}): ハンドシェイク(SYN, SYN-ACK, ACK)が完了しました。カーネルがローカルポート ${s.local.port} を選びました。`,
  recv: (s) =>
    s.proto === "tcp"
      ? `recv(): ${s.bytes} バイト届きました。1回の受信はメッセージの一部のことも、複数分のこともあります。`
      : `recvfrom(): ${addressTuple(s.peer)} から ${s.bytes} バイトのデータグラムを1つ受け取りました。UDP はメッセージの区切りを保ちます。`,
  send: (s) =>
    s.proto === "udp"
      ? `sendto(${addressTuple(s.peer)}): ${s.bytes} バイトのデータグラムを1つ送りました。届いたかどうかは UDP では分かりません。`
      : s.queued > 0
        ? `send(): カーネルは ${s.bytes} バイトの一部だけを受け取りました。残り ${s.queued} バイトはソケットが空くまで sockdemo のキューで待ちます(sendall)。`
        : `send(): ${s.bytes} バイトをカーネルに渡しました。カーネルが TCP セグメントにして送ります。`,
  "peer-fin": () =>
    "recv() が b'' を返しました: 相手が FIN を送りました。相手はもう送信しませんが、受信はできます。",
  shutdown: () =>
    "shutdown(SHUT_WR): キューのデータを送り終えたら FIN を送ります。こちらはまだ受信できます。",
  close: (s) => `close(): ソケットを解放します(${REASON_JA[s.reason] ?? s.reason})。`,
  "icmp-unreachable": (s) =>
    `${addressTuple(s.peer)} のホストが ICMP「ポート到達不能」を返しました: そのポートにはどのソケットもありません。`,
  "no-reply": (s) =>
    `${s.waitMs} ミリ秒以内に応答はありませんでした。UDP には確認応答がないので、無応答からは何も分かりません。`,
};

const SENTENCES: Record<Lang, Sentences> = { en: EN, ja: JA };

export function explainText(lang: Lang, step: ExplainStep): string {
  const sentence = SENTENCES[lang][step.step] as (s: ExplainStep) => string;
  return sentence(step);
}

/** --lang wins; otherwise a Japanese locale in LC_ALL / LC_MESSAGES / LANG picks Japanese. */
export function pickLang(option: unknown, env: Record<string, string | undefined>): Lang {
  if (option === "ja" || option === "en") return option;
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || "";
  return locale.toLowerCase().startsWith("ja") ? "ja" : "en";
}
