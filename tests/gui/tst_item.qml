import QtQuick
import QtTest
import Custodia

Item {
    id: stage
    width: 640
    height: 2000

    Component {
        id: pageComponent
        ItemPage {}
    }
    Component {
        id: testimonyComponent
        NewTestimonyModel {}
    }
    Component {
        id: spyComponent
        SignalSpy {}
    }

    TestCase {
        id: testCase
        name: "ItemView"
        when: windowShown

        property var vault
        property string caseId

        function init() {
            vault = support.unlockedVault("item passphrase");
            caseId = support.addCase(vault, "Item case");
        }

        function makePage(itemId) {
            const page = createTemporaryObject(pageComponent, stage, {
                vault: vault, itemId: itemId, width: stage.width, height: stage.height });
            verify(page !== null);
            tryCompare(page.item, "loaded", true, 10000);
            waitForRendering(page);
            return page;
        }

        function importFile(path) {
            const model = createTemporaryObject(testimonyComponent, testCase,
                                                { vault: vault, caseId: caseId });
            model.witness = "W-1";
            verify(model.addFile(path));
            const saved = createTemporaryObject(spyComponent, testCase,
                                                { target: model, signalName: "saved" });
            model.save();
            saved.wait(10000);
            return saved.signalArguments[0][1];
        }

        function test_metadata_hash_signature_and_timeline() {
            const text = "He was taken from the market at noon.";
            const id = support.addTestimony(vault, caseId, "Market", text, "W-7");
            const page = makePage(id);
            const signature = findChild(page, "signatureLabel");
            verify(signature.text.startsWith("✓"), signature.text);
            compare(findChild(page, "sha256Text").text, support.sha256OfText(text));
            compare(page.title, "Market");
            compare(page.item.witness, "W-7");
            compare(page.item.originalName, "testimony.txt");
            verify(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(page.item.capturedUtc),
                   page.item.capturedUtc);
            compare(page.item.timeline.length, 1);
            compare(page.item.timeline[0].event, "Captured");
        }

        function test_text_preview_is_decrypted_in_memory_and_logged() {
            const text = "Line one.\nLine two, with <b>no</b> markup.";
            const id = support.addTestimony(vault, caseId, "Two lines", text, "W-8");
            const page = makePage(id);
            compare(page.item.previewKind, "");
            verify(findChild(page, "previewButton").visible);
            mouseClick(findChild(page, "previewButton"));
            tryCompare(page.item, "previewKind", "text", 10000);
            compare(findChild(page, "previewText").text, text);
            // Viewing is a custody event (DESIGN.md §5).
            tryCompare(page.item.timeline, "length", 2, 10000);
            compare(page.item.timeline[1].event, "Decrypted for viewing or export");

            mouseClick(findChild(page, "hidePreviewButton"));
            compare(page.item.previewKind, "");
            compare(page.item.previewText, "");
        }

        function test_image_preview_shows_the_photo() {
            const photo = support.makePng(96, 64, "#22aa44");
            const id = importFile(photo);
            const page = makePage(id);
            compare(page.item.kind, "Photo");
            verify(findChild(page, "signatureLabel").text.startsWith("✓"));
            compare(page.item.sha256, support.sha256OfFile(photo));
            mouseClick(findChild(page, "previewButton"));
            tryCompare(page.item, "previewKind", "image", 10000);
            const image = findChild(page, "previewImage");
            tryCompare(image, "status", Image.Ready, 10000);
            compare(image.sourceSize.width, 96);
            compare(image.sourceSize.height, 64);
            waitForRendering(image);
            const shot = grabImage(image);
            // Away from the black diagonal, the photo's own green shows.
            const c = shot.pixel(Math.floor(shot.width * 0.8), Math.floor(shot.height * 0.2));
            verify(Qt.colorEqual(c, "#22aa44"), "pixel is " + c);
        }

        function test_lock_clears_the_item_and_its_preview() {
            const id = support.addTestimony(vault, caseId, "Secret", "Words", "W-9");
            const page = makePage(id);
            mouseClick(findChild(page, "previewButton"));
            tryCompare(page.item, "previewKind", "text", 10000);
            vault.lock();
            compare(page.item.loaded, false);
            compare(page.item.previewText, "");
            compare(page.item.title, "");
        }

        function test_unknown_item_shows_an_error() {
            const page = createTemporaryObject(pageComponent, stage, {
                vault: vault, itemId: "00000000000000000000000000000000",
                width: stage.width, height: stage.height });
            tryVerify(() => page.item.errorMessage !== "", 10000);
            compare(page.item.loaded, false);
        }
    }
}
