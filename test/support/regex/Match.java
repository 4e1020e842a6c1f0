// Java regex harness for test/support/regexEngines.ts: compiles and runs patterns with
// java.util.regex, the engine the SSM service applies to a document parameter's allowedPattern
// (and the dialect of botocore/Smithy `pattern` constraints).
//
// Protocol (stdin, UTF-8): one request per line, three tab-separated fields
//     MODE \t base64(utf8 pattern) \t base64(utf8 input)
// MODE is "full" (Matcher.matches(): the whole input must match) or "find" (Matcher.find():
// a match anywhere, so only the pattern's own anchors bound it).
// Reply (stdout): one line per request, in order: "1" (match), "0" (no match) or
// "E \t base64(utf8 message)" (the pattern does not compile, or matching failed; a
// StackOverflowError is reported as the message "StackOverflowError").
//
// Matching runs on this thread's default stack, as a service would; run the JVM without -Xss to
// keep the JVM's default (1 MB on Linux x86-64), which is what a deep recursion overflows.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

public class Match {
    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    static String unb64(String s) {
        return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8);
    }

    static String run(String mode, String pattern, String input) {
        Pattern p;
        try {
            p = Pattern.compile(pattern);
        } catch (PatternSyntaxException e) {
            return "E\t" + b64("PatternSyntaxException: " + e.getDescription() + " near index " + e.getIndex());
        } catch (StackOverflowError e) {
            return "E\t" + b64("StackOverflowError");
        }
        try {
            Matcher m = p.matcher(input);
            boolean ok;
            if (mode.equals("full")) ok = m.matches();
            else if (mode.equals("find")) ok = m.find();
            else return "E\t" + b64("unknown mode " + mode);
            return ok ? "1" : "0";
        } catch (StackOverflowError e) {
            return "E\t" + b64("StackOverflowError");
        } catch (RuntimeException e) {
            return "E\t" + b64(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t", -1);
            if (f.length != 3) {
                out.write("E\t" + b64("malformed request line") + "\n");
                continue;
            }
            out.write(run(f[0], unb64(f[1]), unb64(f[2])));
            out.write("\n");
        }
        out.flush();
    }
}
