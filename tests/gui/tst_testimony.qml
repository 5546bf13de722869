import QtQuick
import QtTest
import Custodia

Item {
    id: stage
    width: 640
    height: 2200  // the whole form fits: every control can be clicked

    Component {
        id: pageComponent
        NewTestimonyPage {}
    }
    Component {
        id: itemsComponent
        ItemsModel {}
    }
    Component {
        id: itemComponent
        ItemModel {}
    }
    Component {
        id: spyComponent
        SignalSpy {}
    }

    TestCase {
        id: testCase
        name: "NewTestimony"
        when: windowShown

        property var vault
        property string caseId

        function init() {
            vault = support.unlockedVault("testimony passphrase");
            caseId = support.addCase(vault, "Testimony case");
            verify(caseId !== "");
        }

        function makePage() {
            const page = createTemporaryObject(pageComponent, stage, {
                vault: vault, caseId: caseId, width: stage.width, height: stage.height });
            verify(page !== null);
            waitForRendering(page);
            return page;
        }

        function items() {
            const model = createTemporaryObject(itemsComponent, testCase,
                                                { vault: vault, caseId: caseId });
            tryCompare(model, "loading", false, 10000);
            return model;
        }

        function loadItem(id) {
            const item = createTemporaryObject(itemComponent, testCase, { vault: vault, itemId: id });
            tryCompare(item, "loaded", true, 10000);
            return item;
        }

        function type(page, name, text) {
            const field = findChild(page, name);
            verify(field !== null, name);
            field.forceActiveFocus();
            field.selectAll();
            keyClick(text[0]);  // a real key press reaches the model
            field.insert(field.length, text.substring(1));
            compare(field.text, text);
        }

        function test_witness_pseudonym_is_required() {
            const page = makePage();
            type(page, "statementArea", "An account without a witness");
            mouseClick(findChild(page, "saveButton"));
            compare(findChild(page, "errorLabel").text,
                    "Give the witness a pseudonym (never their real name).");
            wait(200);
            compare(items().count, 0);
        }

        function test_nothing_to_save_is_refused() {
            const page = makePage();
            type(page, "witnessField", "W-1");
            mouseClick(findChild(page, "saveButton"));
            verify(findChild(page, "errorLabel").text.indexOf("nothing to save") >= 0);
        }

        function test_location_out_of_range_is_refused() {
            const page = makePage();
            type(page, "witnessField", "W-1");
            type(page, "statementArea", "Somewhere");
            mouseClick(findChild(page, "locationSwitch"));
            verify(page.testimony.locationKnown);
            type(page, "latitudeField", "123.5");
            type(page, "longitudeField", "10");
            mouseClick(findChild(page, "saveButton"));
            verify(findChild(page, "errorLabel").text.indexOf("latitude") >= 0);
            compare(page.testimony.busy, false);
        }

        function test_written_account_is_saved_with_its_fields() {
            const page = makePage();
            const spy = createTemporaryObject(spyComponent, testCase,
                                              { target: page, signalName: "done" });
            const account = "Soldiers came to the school at 9 and took four teachers. marker-7f3a";
            type(page, "witnessField", "Teacher-2");
            type(page, "titleField", "School raid");
            findChild(page, "consentCombo").currentIndex = 1;
            findChild(page, "consentCombo").activated(1);
            mouseClick(findChild(page, "courtsCheck"));
            type(page, "organisationsField", "Example Rights Org");
            mouseClick(findChild(page, "locationSwitch"));
            type(page, "latitudeField", "12.5");
            type(page, "longitudeField", "-3.25");
            type(page, "accuracyField", "30");
            type(page, "languageField", "fr");
            type(page, "tagsField", "school, detention");
            type(page, "statementArea", account);
            mouseClick(findChild(page, "saveButton"));
            spy.wait(10000);
            compare(spy.count, 1);
            const id = spy.signalArguments[0][0];
            verify(id.length === 32);
            compare(page.testimony.statement, "", "the form is empty for the next one");
            compare(page.testimony.witness, "");

            const list = items();
            compare(list.count, 1);
            const item = loadItem(id);
            compare(item.title, "School raid");
            compare(item.kind, "Testimony");
            compare(item.witness, "Teacher-2");
            compare(item.consent, "Oral consent, recorded: may be shared with Example Rights Org, courts");
            compare(item.location, "12.500000, -3.250000 (±30 m), typed");
            compare(item.language, "fr");
            compare(item.tags, "detention, school", "the vault keeps tags sorted");
            compare(item.investigator, "Investigator F");
            compare(item.sha256, support.sha256OfText(account), "SHA-256 by Qt agrees");
            verify(item.signatureValid);
            verify(!support.vaultContainsText(vault, "marker-7f3a"), "no plaintext on disk");
        }

        function test_imported_photo_is_saved_with_progress() {
            const page = makePage();
            const photo = support.makePng(320, 240, "#3366cc");
            verify(photo !== "");
            type(page, "witnessField", "W-4");
            verify(page.testimony.addFile(photo));
            compare(page.testimony.files.length, 1);
            verify(page.testimony.files[0].name.endsWith(".png"));
            const progress = createTemporaryObject(spyComponent, testCase,
                                                   { target: page.testimony, signalName: "progressChanged" });
            const done = createTemporaryObject(spyComponent, testCase,
                                               { target: page, signalName: "done" });
            mouseClick(findChild(page, "saveButton"));
            verify(page.testimony.busy, "saving runs off the UI thread");
            done.wait(10000);
            verify(progress.count >= 2, "progress was reported");
            compare(page.testimony.files.length, 0);

            const item = loadItem(done.signalArguments[0][0]);
            compare(item.kind, "Photo");
            compare(item.mimeType, "image/png");
            compare(item.sha256, support.sha256OfFile(photo), "SHA-256 by Qt agrees");
            verify(item.signatureValid);
            verify(!support.vaultContainsFileBytes(vault, photo), "no plaintext on disk");
        }

        function test_account_and_files_become_separate_items() {
            const page = makePage();
            type(page, "witnessField", "W-5");
            type(page, "statementArea", "What she said");
            verify(page.testimony.addFile(support.makePng(16, 16, "#ff0000")));
            verify(page.testimony.addFile(support.makeFile("notes.bin", 1)));
            const done = createTemporaryObject(spyComponent, testCase,
                                               { target: page, signalName: "done" });
            mouseClick(findChild(page, "saveButton"));
            done.wait(10000);
            compare(items().count, 3);
        }

        function test_unreadable_file_is_refused() {
            const page = makePage();
            verify(!page.testimony.addFile("/nonexistent/file.png"));
            compare(page.testimony.errorMessage, "That file cannot be read.");
            compare(page.testimony.files.length, 0);
        }

        function test_cancel_stops_a_large_import() {
            const page = makePage();
            type(page, "witnessField", "W-6");
            verify(page.testimony.addFile(support.makeFile("large.bin", 96)));
            mouseClick(findChild(page, "saveButton"));
            verify(page.testimony.busy);
            waitForRendering(page);
            mouseClick(findChild(page, "cancelButton"));
            tryCompare(page.testimony, "busy", false, 20000);
            compare(page.testimony.errorMessage, "Cancelled.");
            compare(page.testimony.files.length, 1, "the file stays on the form to try again");
            compare(items().count, 0, "nothing half-saved");
        }

        function test_lock_during_a_save_stops_it_and_clears_the_form() {
            const page = makePage();
            type(page, "witnessField", "W-7");
            type(page, "statementArea", "Words that must not outlive the lock");
            verify(page.testimony.addFile(support.makeFile("big.bin", 96)));
            mouseClick(findChild(page, "saveButton"));
            verify(page.testimony.busy);
            vault.lock();
            compare(page.testimony.busy, false, "the form is free again");
            compare(page.testimony.statement, "", "the unsaved account went with the keys");
            compare(page.testimony.files.length, 0);
            vault.unlock("testimony passphrase");
            tryCompare(vault, "state", VaultModel.Unlocked, 20000);
            // The written account may have been saved before the lock; the
            // large file, cancelled mid-way, must not be there at all.
            const list = items();
            verify(list.count <= 1, "items: " + list.count);
            for (let i = 0; i < list.count; ++i)
                compare(list.data(list.index(i, 0), 258), "Testimony");  // KindRole
        }

        function test_recording_control_says_when_there_is_no_microphone() {
            const page = makePage();
            if (page.testimony.recorder.available)
                skip("this machine has a microphone");
            verify(findChild(page, "noMicrophoneLabel").visible);
            verify(!findChild(page, "recordButton").visible);
            page.testimony.recorder.start();
            compare(page.testimony.recorder.recording, false);
            compare(page.testimony.recorder.errorMessage, "No microphone was found on this device.");
        }
    }
}
