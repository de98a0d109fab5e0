import ArgumentParser
import FlexCLI
import Foundation
import Testing

/// Parses `flexctl activation ARGS` the way the binary does (validation included).
private func parse(_ args: [String]) throws -> ActivationCommand {
    let command = try Flexctl.parseAsRoot(["activation"] + args)
    return try #require(command as? ActivationCommand)
}

/// The error message and exit code `flexctl activation ARGS` would print and return.
private func failure(_ args: [String]) -> (message: String, code: Int32)? {
    do {
        _ = try Flexctl.parseAsRoot(["activation"] + args)
        return nil
    } catch {
        return (Flexctl.message(for: error), Flexctl.exitCode(for: error).rawValue)
    }
}

@Suite("activation: parsing and validation")
struct ActivationValidationTests {
    @Test("defaults: -4...4 step 0.5 with the member's initial alpha and beta")
    func defaults() throws {
        let r = try parse(["p-sig-ramp"]).resolve()
        #expect(r.grid.count == 17)
        #expect(r.grid.first == -4 && r.grid.last == 4 && r.grid[8] == 0)
        #expect(r.alpha == [1])
        #expect(r.beta == [0.1])
        #expect(r.function.name == "p-sig-ramp")
    }

    @Test("negative numbers are accepted as option values")
    func negativeValues() throws {
        let r = try parse(["p-sig-ramp", "--from", "-2", "--to", "-1", "--step", "0.25", "--beta", "0.3"]).resolve()
        #expect(r.grid == [-2, -1.75, -1.5, -1.25, -1])
        #expect(r.beta == [0.3])
    }

    @Test("the grid includes --to only when it lands on the grid, with decimal points")
    func grid() throws {
        #expect(try ActivationCommand.makeGrid(from: -4, to: 4, step: 3) == [-4, -1, 2])
        let tenths = try ActivationCommand.makeGrid(from: -0.3, to: 0.3, step: 0.1)
        #expect(tenths == [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3])
        #expect(try ActivationCommand.makeGrid(from: 0, to: 1, step: 1.0 / 3).count == 4)
        #expect(try ActivationCommand.makeGrid(from: 0, to: 1, step: 1.0 / 3).last == 1)
        #expect(try ActivationCommand.makeGrid(from: 0, to: 99_999, step: 1).count == 100_000)
    }

    @Test("p-e-relu: K-1 free weights get the last as 1 - sum; K weights summing to 1 are accepted")
    func simplexAlpha() throws {
        let two = try parse(["p-e-relu", "--alpha", "0.2,0.3"]).resolve()
        #expect(two.alpha.count == 3)
        #expect(abs(two.alpha[2] - 0.5) < 1e-12)
        let three = try parse(["p-e-relu", "--alpha", "0.2, 0.3, 0.5"]).resolve()
        #expect(three.alpha == [0.2, 0.3, 0.5])
        let defaults = try parse(["p-e-relu"]).resolve()
        #expect(defaults.alpha == [1, 0, 0])
    }

    @Test("member names are case-insensitive")
    func caseInsensitive() throws {
        #expect(try parse(["P-Sig-Ramp"]).resolve().function.name == "p-sig-ramp")
    }

    @Test("bad inputs: message quotes the value and lists the choices; usage exit code 64",
          arguments: [
              (["nope"], ["'nope'", "identity", "p-sig-ramp", "p-e2-id"]),
              (["p-sig-ramp", "--alpha", "0.3,0.4"], ["'0.3,0.4'", "takes 1 value", "found 2"]),
              (["p-sig-ramp", "--alpha", "abc"], ["'abc'", "not a finite number"]),
              (["p-sig-ramp", "--alpha", "1.5"], ["'1.5'", "[0, 1]"]),
              (["p-e-relu", "--alpha", "0.7,0.6"], ["'0.7,0.6'", "1.3", "alpha3 = -0.3", "simplex"]),
              (["p-e-relu", "--alpha", "0.2,0.3,0.4"], ["'0.2,0.3,0.4'", "sum to 1", "0.9"]),
              (["p-e-relu", "--alpha", "0.5"], ["'0.5'", "give 2 values", "or 3 values"]),
              (["p-e-relu", "--alpha", "-0.1,0.6"], ["'-0.1,0.6'", "-0.1", "negative"]),
              (["relu", "--alpha", "0.5"], ["'relu' has no alpha"]),
              (["relu", "--beta", "0.5"], ["'relu' has no beta"]),
              (["p-sig-ramp", "--beta", "0"], ["'0'", "β must lie in"]),
              (["p-sig-ramp", "--beta", "1,2"], ["'1,2'", "takes 1 value"]),
              (["p-sig-ramp", "--from", "4", "--to", "-4"], ["--from 4", "--to -4", "below"]),
              (["p-sig-ramp", "--from", "1", "--to", "1"], ["--from 1", "below"]),
              (["p-sig-ramp", "--step", "0"], ["--step 0: expected a number in (0, 2000000]"]),
              (["p-sig-ramp", "--step", "-0.5"], ["--step -0.5: expected a number in (0, 2000000]"]),
              (["p-sig-ramp", "--step", "inf"], ["--step inf: expected a finite number in (0, 2000000]"]),
              (["p-sig-ramp", "--from", "-1e7"], ["--from -10000000: expected a number in [-1000000, 1000000]"]),
              (["p-sig-ramp", "--to", "1e300"], ["--to 1e+300: expected a number in [-1000000, 1000000]"]),
              (["p-sig-ramp", "--step", "1e-6"], ["8000001 points", "100000"]),
              (["p-sig-ramp", "--from", "nan"], ["--from nan: expected a finite number in [-1000000, 1000000]"]),
              (["p-sig-ramp", "--format", "xml"], ["'xml'", "'table'", "'csv'", "'json'"]),
              (["p-sig-ramp", "--plot", "out.jpg"], ["'out.jpg'", ".png", ".svg"]),
              (["p-sig-ramp", "--plot", "/nonexistent-flexctl-dir/out.png"], ["'/nonexistent-flexctl-dir/out.png'", "does not exist"]),
          ] as [([String], [String])])
    func badInput(args: [String], fragments: [String]) throws {
        let f = try #require(failure(args), "expected \(args) to be rejected")
        for fragment in fragments {
            #expect(f.message.contains(fragment), "message for \(args) lacks \(fragment): \(f.message)")
        }
        #expect(f.code == 64)
    }

    @Test("a plot path that is a folder is rejected")
    func plotIntoFolder() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("x.png"), withIntermediateDirectories: false)
        let f = try #require(failure(["p-sig-ramp", "--plot", dir.file("x.png")]))
        #expect(f.message.contains("is a directory"))
    }
}

@Suite("activation: output")
struct ActivationOutputTests {
    let alpha = 0.3, beta = 0.2
    var args: [String] { ["p-sig-ramp", "--alpha", "0.3", "--beta", "0.2", "--from", "-4", "--to", "4", "--step", "1"] }

    @Test("CSV: header and every value match the formula")
    func csv() throws {
        let out = try parse(args + ["--format", "csv"]).execute()
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.first == "z,o,do_dz,do_dalpha,do_dbeta")
        #expect(lines.count == 10)
        for line in lines.dropFirst() {
            let v = line.split(separator: ",").map { Double($0)! }
            let ref = pSigRampReference(v[0], alpha: alpha, beta: beta)
            #expect(abs(v[1] - ref.value) < 1e-12, "o(\(v[0]))")
            #expect(abs(v[2] - ref.dz) < 1e-12, "dO/dz(\(v[0]))")
            #expect(abs(v[3] - ref.dAlpha) < 1e-12, "dO/dalpha(\(v[0]))")
            #expect(abs(v[4] - ref.dBeta) < 1e-12, "dO/dbeta(\(v[0]))")
        }
    }

    @Test("p-sig-ramp at z = 0 is 0.5 for any alpha (sigmoid and ramp both pass through 1/2)")
    func midpoint() throws {
        for a in ["0", "0.25", "1"] {
            let out = try parse(["p-sig-ramp", "--alpha", a, "--from", "-1", "--to", "1", "--format", "csv"]).execute()
            let row = try #require(out.split(separator: "\n").first { $0.hasPrefix("0,") })
            #expect(Double(row.split(separator: ",")[1]) == 0.5)
        }
    }

    @Test("table: aligned columns, header, the row at z = 0")
    func table() throws {
        let out = try parse(args).execute()
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "member: p-sig-ramp   alpha: 0.3   beta: 0.2")
        let header = lines[1].split(separator: " ").map(String.init)
        #expect(header == ["z", "o(z)", "dO/dz", "dO/dalpha", "dO/dbeta"])
        let body = lines[1..<(lines.count - 1)]
        #expect(Set(body.map(\.count)).count == 1, "rows differ in width: \(body)")
        let zero = try #require(lines.first { $0.split(separator: " ").first == "0" })
        let cells = zero.split(separator: " ").map(String.init)
        let ref = pSigRampReference(0, alpha: alpha, beta: beta)
        #expect(cells[1] == "0.500000")
        #expect(cells[2] == String(format: "%.6f", ref.dz))
        #expect(lines.count == 2 + 1 + 9 + 1)  // info, header, rule, 9 rows, trailing ""
    }

    @Test("JSON: an object with member, alpha, beta, columns and rows")
    func json() throws {
        let out = try parse(args + ["--format", "json"]).execute()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(object["member"] as? String == "p-sig-ramp")
        #expect(object["alpha"] as? [Double] == [0.3])
        #expect(object["beta"] as? [Double] == [0.2])
        #expect(object["columns"] as? [String] == ["z", "o", "do_dz", "do_dalpha", "do_dbeta"])
        #expect(object["kind"] as? String == "activation_table" && object["schema_version"] as? Int == 1)
        let rows = try #require(object["rows"] as? [[String: Double]])
        #expect(rows.count == 9)
        for row in rows {
            let z = try #require(row["z"])
            let ref = pSigRampReference(z, alpha: alpha, beta: beta)
            #expect(abs(try #require(row["o"]) - ref.value) < 1e-12)
            #expect(abs(try #require(row["do_dz"]) - ref.dz) < 1e-12)
            #expect(abs(try #require(row["do_dalpha"]) - ref.dAlpha) < 1e-12)
            #expect(abs(try #require(row["do_dbeta"]) - ref.dBeta) < 1e-12)
        }
    }

    @Test("columns follow the member: none for relu, three alphas for p-e-relu")
    func columns() throws {
        let relu = try parse(["relu", "--format", "csv"]).execute()
        #expect(relu.hasPrefix("z,o,do_dz\n"))
        #expect(relu.contains("\n1,1,1\n"))
        #expect(relu.contains("\n-1,0,0\n"))
        let pe = try parse(["p-e-relu", "--alpha", "0.2,0.3", "--format", "csv"]).execute()
        #expect(pe.hasPrefix("z,o,do_dz,do_dalpha1,do_dalpha2,do_dalpha3\n"))
    }

    @Test("--plot writes an SVG and a PNG before printing")
    func plots() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        for name in ["act.svg", "act.PNG"] {
            let out = try parse(args + ["--plot", dir.file(name)]).execute()
            #expect(out.hasPrefix("member: p-sig-ramp"))
            #expect(FileManager.default.fileExists(atPath: dir.file(name)))
        }
        #expect(dir.contents() == ["act.PNG", "act.svg"], "temporary files left behind")
    }

    @Test("a plot folder that disappears after parsing fails the command, naming the file, with no output")
    func plotFailure() throws {
        let dir = try TempDir()
        let command = try parse(args + ["--plot", dir.file("gone.png")])
        dir.cleanup()  // the folder disappears between parsing and running
        var output: String?
        do {
            output = try command.execute()
            Issue.record("expected a failure")
        } catch {
            #expect("\(error)".contains("gone.png"))
        }
        #expect(output == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.file("gone.png")))
    }

    @Test("a write failure after validation surfaces as a CommandFailure naming the file")
    func writeFailure() throws {
        // Render into a path whose parent is a regular file: validation passes for a folder, then the
        // folder is replaced by a file before the write.
        let dir = try TempDir()
        defer { dir.cleanup() }
        let sub = dir.file("sub")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        let r = try parse(args).resolve()
        let plot = ActivationCommand.makePlot(r, from: -4, to: 4)
        try FileManager.default.removeItem(atPath: sub)
        #expect(FileManager.default.createFile(atPath: sub, contents: Data("x".utf8)))
        #expect {
            try plot.write(to: sub + "/p.png")
        } throws: { error in
            "\(error)".contains("sub/p.png")
        }
    }
}
