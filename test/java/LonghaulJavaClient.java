// A Java client as branch offices run them: TLS to the gateway, one request per connection
// (`Connection: close`), trusting the gateway through the PKCS#12 truststore of `longhaul certs
// init` (-Djavax.net.ssl.trustStore=… -Djavax.net.ssl.trustStoreType=PKCS12
// -Djavax.net.ssl.trustStorePassword=…). Run by test/integration/java-clients.test.ts.
//
// usage: java LonghaulJavaClient BASE_URL SEQUENTIAL THREADS PER_THREAD
//   SEQUENTIAL requests with HttpURLConnection, one after another;
//   THREADS x PER_THREAD with java.net.http.HttpClient (HTTP/1.1), THREADS at a time.
// Even-numbered requests are GET /hello, odd ones POST /echo with a distinct body; every answer
// is checked (status 200; /hello body; /echo body identical and x-body-sha256 = SHA-256 of it).
// Prints `RESULT <phase> ok=N fail=N`, and `FAIL …` lines; exits 1 when anything failed.
// Setting `Connection` on java.net.http needs -Djdk.httpclient.allowRestrictedHeaders=connection.
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

public class LonghaulJavaClient {
  static final AtomicInteger failures = new AtomicInteger();

  static byte[] body(String phase, int i) {
    StringBuilder sb = new StringBuilder();
    while (sb.length() < 1024 + i) sb.append(phase).append('-').append(i).append(';');
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  static boolean check(String what, int status, byte[] got, byte[] sent, String shaHeader) throws Exception {
    String why = null;
    if (status != 200) why = "status " + status;
    else if (sent == null && !new String(got, StandardCharsets.UTF_8).startsWith("hello from ")) why = "body " + new String(got, StandardCharsets.UTF_8);
    else if (sent != null && !java.util.Arrays.equals(got, sent)) why = "echo body differs (" + got.length + " vs " + sent.length + " bytes)";
    else if (sent != null && !sha256(sent).equals(shaHeader)) why = "x-body-sha256 " + shaHeader;
    if (why == null) return true;
    failures.incrementAndGet();
    System.out.println("FAIL " + what + ": " + why);
    return false;
  }

  static boolean viaUrlConnection(String base, int i) throws Exception {
    boolean post = i % 2 == 1;
    HttpURLConnection c = (HttpURLConnection) new URL(base + (post ? "/echo" : "/hello")).openConnection();
    c.setRequestProperty("Connection", "close");
    c.setConnectTimeout(10_000);
    c.setReadTimeout(30_000);
    byte[] sent = null;
    if (post) {
      sent = body("seq", i);
      c.setRequestMethod("POST");
      c.setDoOutput(true);
      c.setFixedLengthStreamingMode(sent.length);
      try (OutputStream out = c.getOutputStream()) { out.write(sent); }
    }
    int status = c.getResponseCode();
    byte[] got;
    try (InputStream in = status < 400 ? c.getInputStream() : c.getErrorStream()) {
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      if (in != null) in.transferTo(buf);
      got = buf.toByteArray();
    }
    return check("HttpURLConnection #" + i, status, got, sent, c.getHeaderField("x-body-sha256"));
  }

  static boolean viaHttpClient(HttpClient client, String base, int t, int i) throws Exception {
    boolean post = i % 2 == 1;
    byte[] sent = post ? body("conc" + t, i) : null;
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + (post ? "/echo" : "/hello")))
        .timeout(Duration.ofSeconds(30))
        .header("Connection", "close");
    b = post ? b.POST(HttpRequest.BodyPublishers.ofByteArray(sent)) : b.GET();
    HttpResponse<byte[]> r = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    return check("HttpClient t" + t + " #" + i, r.statusCode(), r.body(), sent, r.headers().firstValue("x-body-sha256").orElse(null));
  }

  public static void main(String[] args) throws Exception {
    String base = args[0];
    int sequential = Integer.parseInt(args[1]);
    int threads = Integer.parseInt(args[2]);
    int perThread = Integer.parseInt(args[3]);

    long t0 = System.nanoTime();
    int ok = 0;
    for (int i = 0; i < sequential; i++) {
      try {
        if (viaUrlConnection(base, i)) ok++;
      } catch (Exception e) {
        failures.incrementAndGet();
        System.out.println("FAIL HttpURLConnection #" + i + ": " + e);
      }
    }
    System.out.println("RESULT sequential ok=" + ok + " fail=" + (sequential - ok));
    System.out.println("INFO sequential took " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    long t1 = System.nanoTime();

    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<Future<Integer>> results = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      final int tt = t;
      results.add(pool.submit(() -> {
        int n = 0;
        for (int i = 0; i < perThread; i++) {
          try {
            if (viaHttpClient(client, base, tt, i)) n++;
          } catch (Exception e) {
            failures.incrementAndGet();
            System.out.println("FAIL HttpClient t" + tt + " #" + i + ": " + e);
          }
        }
        return n;
      }));
    }
    int cok = 0;
    for (Future<Integer> f : results) cok += f.get();
    pool.shutdown();
    System.out.println("RESULT concurrent ok=" + cok + " fail=" + (threads * perThread - cok));
    System.out.println("INFO concurrent took " + (System.nanoTime() - t1) / 1_000_000 + " ms");
    System.exit(failures.get() == 0 ? 0 : 1);
  }
}
